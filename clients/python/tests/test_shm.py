"""ShmClient against the real broker's segment, through libforge-client
($FORGE_CLIENT_LIB: the staged install)."""

import os
import subprocess
import sys

import pytest

from conftest import http_get
from miniforge import (ClosedError, ForgeError, NoBrokerError,
                       NoNamespaceError, ShmClient)


def test_keys_of_default_and_of_a_namespace(stack):
    with ShmClient(stack.shm_name) as client:
        one = client.get_key(timeout=5)
        many = client.get_keys(500, timeout=5)
        named = client.get_keys(20, ns="py", timeout=5)
        assert len(one) == 7 and len(named[0]) == 8
        assert 0 < len(many) <= 500
        assert len(set(many + [one])) == len(many) + 1
        assert client.key_length("py") == 8


def test_the_client_shows_in_metrics_with_its_pid(stack):
    with ShmClient(stack.shm_name) as client:
        client.get_keys(10, timeout=5)
        status, _, body = http_get(stack.port, "/metrics")
    assert status == 200
    mine = [line for line in body.decode().splitlines()
            if line.startswith("forge_worker_pid{")
            and line.rsplit(" ", 1)[1] == str(os.getpid())]
    assert mine, "this process has a stats slot"
    assert all('kind="client"' in line for line in mine), mine


def test_shm_name_from_the_environment(stack):
    code = ("import miniforge; c = miniforge.ShmClient(); "
            "print(c.get_key(timeout=5)); c.close()")
    env = dict(os.environ, SHM_NAME=stack.shm_name)
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip()) == 7


def test_errors_are_distinct_classes_with_the_library_text(stack):
    with pytest.raises(NoBrokerError) as e:
        ShmClient(f"{stack.shm_name}-nobody").get_key(timeout=0)
    assert isinstance(e.value, ForgeError) and e.value.code == 3
    assert str(e.value), "forge_last_error()'s text"
    with ShmClient(stack.shm_name) as client:
        with pytest.raises(NoNamespaceError) as e:
            client.get_key(ns="nosuch", timeout=0)
        assert e.value.code == 5 and "nosuch" in str(e.value)
        with pytest.raises(ValueError):
            client.get_keys(0)
    with pytest.raises(ClosedError):
        client.get_key()


def test_a_missing_library_is_one_clear_line():
    code = "import miniforge; miniforge.ShmClient('x')"
    env = dict(os.environ, FORGE_CLIENT_LIB="/nonexistent/libforge-client.so")
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "cannot load libforge-client from /nonexistent" in out.stderr

"""HttpClient against the real forge-frontend (conftest's stack)."""

import threading

import pytest

from conftest import TOKEN
from miniforge import ExhaustedError, HttpClient, HttpStatusError


def test_keys_of_default_and_of_a_namespace(stack):
    with HttpClient(stack.url, token=TOKEN, batch=50, low=10) as plain, \
            HttpClient(stack.url, namespace="py", token=TOKEN) as named:
        keys = [plain.get_key(timeout=10) for _ in range(120)]
        assert len(set(keys)) == 120
        assert {len(k) for k in keys} == {7}
        assert len(named.get_key(timeout=10)) == 8
        assert plain.refills() >= 3


def test_a_wrong_token_is_a_sticky_http_status_error(stack):
    with HttpClient(stack.url, token="not-the-right-token") as client:
        for _ in range(2):
            with pytest.raises(HttpStatusError, match="bearer token is wrong") as e:
                client.get_key(timeout=10)
            assert e.value.status == 401


def test_a_namespace_not_served_is_404(stack):
    with HttpClient(stack.url, namespace="nosuch", token=TOKEN) as client:
        with pytest.raises(HttpStatusError, match="not served here") as e:
            client.get_key(timeout=10)
        assert e.value.status == 404


def test_every_key_then_exhausted_for_good(stack):
    # `tiny` has 62 one-character keys: each comes once, then the
    # frontend's "key space exhausted" is ExhaustedError, again and again.
    keys = []
    with HttpClient(stack.url, namespace="tiny", token=TOKEN, batch=10,
                    low=5) as client:
        with pytest.raises(ExhaustedError, match="key space exhausted"):
            while True:
                keys.append(client.get_key(timeout=10))
        with pytest.raises(ExhaustedError):
            client.get_key(timeout=10)
    assert len(keys) == len(set(keys)) > 0
    assert len(keys) <= 62


def test_seed_100000_keys_from_100_threads_no_duplicates(stack):
    per_thread, threads = 1000, 100
    results = [None] * threads
    errors = []
    with HttpClient(stack.url, token=TOKEN, batch=1000, low=500) as client:
        def worker(i):
            try:
                results[i] = [client.get_key(timeout=20) for _ in range(per_thread)]
            except Exception as e:  # reported below, with the thread
                errors.append((i, e))

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    assert not errors
    keys = [k for r in results for k in r]
    assert len(keys) == per_thread * threads
    assert len(set(keys)) == len(keys), "a key was handed out twice"

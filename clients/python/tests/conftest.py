"""Fixtures of the miniforge tests.

`stack`: ONE real forge-broker + forge-frontend from $FORGE_BIN_DIR for the
whole session (loopback, a free port, a temp-dir SQLite store, its own
SHM_NAME, AUTH_TOKEN set), serving `default` (7 characters), `py` (8) and
`tiny` (1 character: 62 keys, to reach "key space exhausted"). Stopped by
pid at the end; its segments /dev/shm/mini-forge.<name>* are removed.

`fake_server`: a tiny HTTP server answering /get-keys from a script, for
the misbehaving-server cases the real frontend cannot be made to show
(reset mid-body, a bad body); its answers copy frontend/handlers.cpp's
statuses, headers and body text.
"""

import contextlib
import glob
import http.client
import http.server
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

TOKEN = "py-test-token-0123456789"
EXHAUSTED_BODY = (b"key space exhausted: every 7-character key of the store has "
                  b"been issued; no more keys will come\n")
EMPTY_BODY = (b"the ring is empty: demand is above supply or the broker is still "
              b"starting; retry\n")


def wait_until(check, seconds, what):
    """Polls check() until true; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, token=TOKEN):
    """(status, headers dict, body bytes) of one GET on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    except OSError:
        return None, {}, b""
    finally:
        conn.close()


class Stack:
    """The started binaries: .port, .url, .shm_name, .dir, .logs()."""

    def __init__(self, directory, shm_name):
        self.dir = directory
        self.shm_name = shm_name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs = []

    def env(self, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "SHM_NAME": self.shm_name,
               "DB_URL": f"sqlite:{self.dir}/forge.db",
               "HOST": "127.0.0.1", "PORT": str(self.port), "WORKERS": "2"}
        env.update(extra)
        return env

    def start(self, program, **extra):
        log = open(os.path.join(self.dir, program + ".log"), "wb")
        proc = subprocess.Popen([os.path.join(os.environ["FORGE_BIN_DIR"], program)],
                                cwd=self.dir, env=self.env(**extra),
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def logs(self):
        text = ""
        for name in ("forge-broker", "forge-frontend"):
            with contextlib.suppress(OSError), open(
                    os.path.join(self.dir, name + ".log"), errors="replace") as f:
                text += f"--- {name} ---\n{f.read()[-4000:]}\n"
        return text

    def stop(self):
        """Frontend first, then broker: TERM, KILL after 5 s; only ours."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for path in glob.glob(f"/dev/shm/mini-forge.{self.shm_name}*"):
            with contextlib.suppress(OSError):
                os.unlink(path)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if "FORGE_BIN_DIR" not in os.environ:
        pytest.fail("FORGE_BIN_DIR is not set: the directory of forge-broker "
                    "and forge-frontend (CTest sets it)")
    directory = str(tmp_path_factory.mktemp("stack"))
    os.makedirs(os.path.join(directory, "config"))
    with open(os.path.join(directory, "config", "config.yml"), "w") as f:
        f.write("namespaces:\n  py: { key_length: 8 }\n"
                "  tiny: { key_length: 1, key_order: sequential }\n")
    s = Stack(directory, f"t-py-{os.getpid()}-{time.monotonic_ns() % 100000}")
    try:
        broker = s.start("forge-broker")
        frontend = s.start("forge-frontend", AUTH_TOKEN=TOKEN)
        deadline = time.monotonic() + 30
        while http_get(s.port, "/healthz")[0] != 200:
            if (time.monotonic() > deadline or broker.poll() is not None
                    or frontend.poll() is not None):
                pytest.fail("the stack did not become healthy within 30 s\n" +
                            s.logs())
            time.sleep(0.05)
        yield s
    finally:
        s.stop()


class FakeFrontend(http.server.BaseHTTPRequestHandler):
    """Answers each request with the server's next scripted answer (the
    last one repeats); records (time, path, headers) of every request."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append((time.monotonic(), self.path, dict(self.headers)))
            answer = srv.script[min(srv.served, len(srv.script) - 1)]
            srv.served += 1
        answer(self)

    def log_message(self, *args):
        pass

    # Answers, as frontend/handlers.cpp gives them.

    def keys(self, keys, length=None):
        body = b"".join(k.encode() + b"\n" for k in keys)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Key-Count", str(len(keys)))
        self.send_header("Content-Length", str(length or len(body)))
        self.end_headers()
        return body

    def unavailable(self, body, retry_after="1"):
        self.send_response(503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Retry-After", retry_after)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def keys_answer(keys):
    """A 200 with these keys."""
    return lambda h: h.wfile.write(h.keys(keys))


def reset_answer(keys, sent):
    """Headers announcing `keys`, the first `sent` bytes of the body, then a
    TCP reset (SO_LINGER 0)."""
    def answer(h):
        body = h.keys(keys)
        h.wfile.write(body[:sent])
        h.wfile.flush()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
    return answer


def raw_answer(status_line, headers, body):
    """Any answer, byte for byte (a malformed body, say)."""
    def answer(h):
        h.wfile.write(status_line.encode() + b"\r\n")
        for k, v in headers.items():
            h.wfile.write(f"{k}: {v}\r\n".encode())
        h.wfile.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return answer


def unavailable_answer(body=EMPTY_BODY, retry_after="1"):
    return lambda h: h.unavailable(body, retry_after)


@pytest.fixture
def fake_server():
    """Factory: fake_server(script) -> the server (.url, .requests)."""
    servers = []

    def make(script):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeFrontend)
        srv.daemon_threads = True
        srv.script, srv.requests, srv.served = script, [], 0
        srv.lock = threading.Lock()
        srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()

"""The mixed run: shared-memory clients (ShmClient), plain HTTP requests
(/get-key and /get-keys, served by the frontend's workers) and buffered
HttpClients all draw from ONE broker's segment at the same time, for a
couple of seconds: no key comes out twice overall."""

import http.client
import threading
import time

from conftest import TOKEN
from miniforge import HttpClient, ShmClient

SECONDS = 2.0


def plain_http(port, path, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Bearer " + TOKEN}
    while time.monotonic() < out.stop:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 200:
            out.extend(body.decode().split())
    conn.close()


def shm(client, n, out):
    while time.monotonic() < out.stop:
        out.extend(client.get_keys(n, timeout=1) if n > 1 else
                   [client.get_key(timeout=1)])


def buffered(client, out):
    while time.monotonic() < out.stop:
        out.append(client.get_key(timeout=5))


class Keys(list):
    """One drawer's keys, and its errors."""

    def __init__(self, kind, stop):
        super().__init__()
        self.kind, self.stop, self.error = kind, stop, None


def test_shm_http_workers_and_buffered_clients_share_one_segment(stack):
    stop = time.monotonic() + SECONDS
    with ShmClient(stack.shm_name) as shm_a, ShmClient(stack.shm_name) as shm_b, \
            HttpClient(stack.url, token=TOKEN, batch=200, low=50) as http_a, \
            HttpClient(stack.url, token=TOKEN, batch=50, low=10) as http_b:
        jobs = [("shm", shm, (shm_a, 1)), ("shm", shm, (shm_a, 64)),
                ("shm", shm, (shm_b, 1)), ("shm", shm, (shm_b, 500)),
                ("http", plain_http, (stack.port, "/get-key")),
                ("http", plain_http, (stack.port, "/get-key")),
                ("http", plain_http, (stack.port, "/get-keys?count=100")),
                ("buffered", buffered, (http_a,)), ("buffered", buffered, (http_a,)),
                ("buffered", buffered, (http_b,)), ("buffered", buffered, (http_b,))]
        drawers = []
        threads = []
        for kind, fn, args in jobs:
            out = Keys(kind, stop)
            drawers.append(out)

            def run(fn=fn, args=args, out=out):
                try:
                    fn(*args, out)
                except Exception as e:  # reported below, with its kind
                    out.error = e

            threads.append(threading.Thread(target=run))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [(d.kind, d.error) for d in drawers if d.error] == []
    counts = {}
    for d in drawers:
        counts[d.kind] = counts.get(d.kind, 0) + len(d)
    print("keys drawn:", counts)
    assert all(counts.get(k, 0) > 0 for k in ("shm", "http", "buffered")), counts
    keys = [k for d in drawers for k in d]
    assert len(set(keys)) == len(keys), f"duplicates among {counts}"

#!/usr/bin/env bash
# bench/clients_py.sh — the Python client's two ways to a key (issue 15),
# in one run: miniforge.ShmClient.get_key (shared memory, libforge-client)
# against GET /get-key over one keep-alive http.client connection, one
# thread each, ROUNDS interleaved rounds (A B, then B A, ...) of DURATION
# seconds; prints the medians:
#   python get_key: shm A ops/s vs http B ops/s = ratio (target ≥ 10)
#
# Knobs (environment): DURATION=5, ROUNDS=3, WORKERS=2, SKIP_BUILD=1 (use
# the existing build-release), FORGE_CLIENT_LIB (default: the
# libforge-client.so built into build-release). Run by bench/clients.sh.
# Not a test: it asserts nothing and exits 0 whatever the numbers are; it
# waits (up to 60 s) for the load average to fall below the core count and
# prints the load it started at.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

source "$ROOT/bench/lib/defaults.sh"

setup_bench curl

if [ -z "${FORGE_CLIENT_LIB:-}" ]; then
  FORGE_CLIENT_LIB=$(find "$ROOT/build-release/" -name 'libforge-client.so' | head -1)
  [ -n "$FORGE_CLIENT_LIB" ] || {
    echo "bench: no libforge-client.so under build-release; set FORGE_CLIENT_LIB" >&2
    exit 1
  }
fi
export FORGE_CLIENT_LIB

# Ranges and a ring large enough that the broker is never what is measured.
start_forge py 100000 1048576 "$WORKERS"
wait_http "$FORGE_py_PORT" /healthz 30
load=$(quiet)

# Debian's python3: python3 on PATH may be another one.
PYTHONPATH=$ROOT/clients/python PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - \
  "bench-$$-py" "$FORGE_py_PORT" "$DURATION" "$ROUNDS" "$load" <<'PY'
import http.client
import statistics
import sys
import time

import miniforge

shm_name, port, seconds, rounds, load = sys.argv[1:]
seconds, rounds = float(seconds), int(rounds)


def rate(get):
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            get()
        n += 100
    return n / seconds


shm = miniforge.ShmClient(shm_name)
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)


def http_get():
    # The server closes a keep-alive connection left idle (the other side's
    # round) or used for its maximum requests: open a new one, as any
    # keep-alive client does; a GET is safe to send again.
    try:
        conn.request("GET", "/get-key")
        resp = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError,
            BrokenPipeError):
        conn.close()
        conn.request("GET", "/get-key")
        resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit(f"bench: GET /get-key answered {resp.status}")


a, b = [], []
for r in range(rounds):
    if r % 2 == 0:
        a.append(rate(shm.get_key)); b.append(rate(http_get))
    else:
        b.append(rate(http_get)); a.append(rate(shm.get_key))
A, B = statistics.median(a), statistics.median(b)
print(f"python get_key: shm {A:.0f} ops/s vs http {B:.0f} ops/s = "
      f"{A / B:.1f} (target ≥ 10) [{load}]")
shm.close()
PY

#!/usr/bin/env bash
# bench/clients.sh — what the clients of issue 15 buy, in one run.
#
#   bench/clients.sh      builds Release into build-release (like
#                         bench/http.sh), starts one stack (broker +
#                         frontend, POOL_CAPACITY=2^24, RANGE_SIZE=10^6)
#                         and measures:
#   1. C API single pops (forge_client_get_key, one thread, timeout 0)
#      against GET /get-key over keep-alive HTTP (wrk -c CONNS, median of
#      ROUNDS): target >= 100x.
#   2. C API batched pops (forge_client_get_keys, BATCH=1000 a call, one
#      process): target >= 20 M keys/s.
#   Both pops start from a full ring (the broker refills far slower than
#   one client pops: a run that drains the ring stops there and says so,
#   "dry"), so they measure the client, not the broker.
#   3. bench/clients_go.sh and bench/clients_py.sh, when they exist (the Go
#      and Python clients), with the same knobs.
# Each line: `name: A ops/s vs B ops/s = ratio (target >= X)`, with the
# load average it started at.
#
# Knobs (environment): WORKERS=2, ROUNDS=3, DURATION=5, CONNS=64,
# BATCH=1000, SKIP_BUILD=1 (use the existing build-release).
# Not a test: it asserts nothing and exits 0 whatever the numbers are; it
# fails only when something could not be run.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

source "$ROOT/bench/lib/defaults.sh"
BATCH=${BATCH:-1000}
POOL=16777216

setup_bench wrk curl

start_forge stack 1000000 "$POOL" "$WORKERS"
port=$FORGE_stack_PORT
export SHM_NAME="bench-$$-stack"
wait_http "$port" /healthz 30

# ring_full: waits (up to 120 s) until the broker has filled the ring.
ring_full() {
  local fill
  for _ in $(seq 1200); do
    fill=$("$BIN/forge-ctl" stats --json --interval 0 |
      sed -n 's/.*"ring":{"capacity":\([0-9]*\),"fill":\([0-9]*\).*/\1 \2/p')
    [ -n "$fill" ] && [ "${fill% *}" = "${fill#* }" ] && return 0
    sleep 0.1  # polling the broker's fill, with a deadline
  done
  echo "bench: the ring did not fill in 120 s" >&2
  return 1
}

# c_pops MODE: one forge_client_bench run from a full ring; sets C_LINE.
c_pops() {
  ring_full
  C_NOTE=$(quiet)
  C_LINE=$("$BIN/forge_client_bench" "$1" "$DURATION" "$BATCH")
}

c_pops single
SINGLE_LINE=$C_LINE SINGLE_NOTE=$C_NOTE
c_pops batch
BATCH_LINE=$C_LINE BATCH_NOTE=$C_NOTE
HTTP_NOTE=$(quiet)
HTTP_RPS=()
for _ in $(seq 1 "$ROUNDS"); do
  HTTP_RPS+=("$(rps "http://127.0.0.1:$port/get-key" "$CONNS")")
done
http=$(printf '%s\n' "${HTTP_RPS[@]}" | median)

echo "== bench/clients.sh (WORKERS=$WORKERS, wrk -c$CONNS, DURATION=$DURATION, POOL_CAPACITY=$POOL) =="
single=$(field "$SINGLE_LINE" keys_per_s)
batched=$(field "$BATCH_LINE" keys_per_s)
awk -v c="$single" -v h="$http" -v cn="$SINGLE_NOTE" -v hn="$HTTP_NOTE" \
  -v dry="$(field "$SINGLE_LINE" dry)" -v secs="$(field "$SINGLE_LINE" seconds)" \
  -v runs="${HTTP_RPS[*]}" 'BEGIN {
  printf "c single pops: %.0f ops/s vs GET /get-key %.0f ops/s = %.0fx (target >= 100)\n", c, h, c / h
  printf "  (C: one thread, %.2f s%s, %s; HTTP: median of %s, %s)\n", secs, dry == 1 ? ", ring ran dry" : "", cn, runs, hn }'
awk -v b="$batched" -v n="$BATCH_NOTE" -v dry="$(field "$BATCH_LINE" dry)" \
  -v secs="$(field "$BATCH_LINE" seconds)" -v batch="$BATCH" 'BEGIN {
  printf "c batched pops: %.0f keys/s vs target 20000000 keys/s = %.2fx (target >= 1)\n", b, b / 2e7
  printf "  (one process, %d keys a call, %.2f s%s, %s)\n", batch, secs, dry == 1 ? ", ring ran dry: the broker did not keep up" : "", n }'

for part in clients_go.sh clients_py.sh; do
  if [ -x "$ROOT/bench/$part" ]; then
    SKIP_BUILD=1 "$ROOT/bench/$part"
  fi
done

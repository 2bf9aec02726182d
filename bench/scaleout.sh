#!/usr/bin/env bash
# bench/scaleout.sh — how far one range store carries mini-forge.
#
#   bench/scaleout.sh          builds Release into build-release (forge-broker,
#                              forge-frontend, forge_store_load), starts its own
#                              PostgreSQL 15, measures, prints a report
#
# 1. Store capacity: forge_store_load on a SQLite file and on PostgreSQL, with
#    1 and 4 processes reserving at once (each like one broker): reservations
#    per second and p50/p99/max reservation latency.
# 2. The whole system: 2 instances (forge-broker + forge-frontend pairs, each
#    its own segment and port) on one PostgreSQL database, wrk against both
#    ports at once, GET /get-keys?count=1000 then GET /get-key, once per
#    RANGE_SIZE. Keys/s from the frontends' own served counters (/metrics),
#    not req/s x N; store reservations/s from the brokers' counters.
#
# Knobs (environment): SECONDS_PER_RUN=5 and ROUNDS=1 (store runs),
# PROCS="1 4", STORE_RANGE=1000 (numbers per reservation in part 1; the cost
# of a reservation barely depends on it), DURATION=10 (seconds per wrk run),
# CONNS=32 (per instance), WORKERS=1 (per frontend), RANGE_SIZES="1000
# 100000" and PATHS="/get-keys?count=1000 /get-key" (part 2, one run each),
# POOL_CAPACITY=65536 (part 2),
# BUILD_DIR=build-release, SKIP_BUILD=1 (use BUILD_DIR as it is),
# PG_BINDIR=/usr/lib/postgresql/15/bin, RESULTS=FILE (also write the report
# there).
#
# PostgreSQL runs from a temporary directory (initdb as the `postgres` user
# when run as root), on 127.0.0.1 at a free port, with its default
# durability (fsync on, synchronous_commit on); every process this script
# starts is stopped by pid on exit. Not a test: it fails only when something
# could not be run.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-1}
PROCS=${PROCS:-1 4}
STORE_RANGE=${STORE_RANGE:-1000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
WORKERS=${WORKERS:-1}
RANGE_SIZES=${RANGE_SIZES:-1000 100000}
PATHS=${PATHS:-/get-keys?count=1000 /get-key}
POOL_CAPACITY=${POOL_CAPACITY:-65536}
BUILD_DIR=${BUILD_DIR:-build-release}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
BIN=$ROOT/$BUILD_DIR/bin
LUA=$ROOT/bench/wrk_report.lua

# free_port, wait_http, stop_pid, stop_all and STARTED (pids to stop);
# forget; start_pg and pg_url.
source "$ROOT/bench/lib/servers.sh"
source "$ROOT/bench/lib/postgres.sh"

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "bench: building Release into $BUILD_DIR" >&2
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DFORGE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j2 \
    --target forge-broker forge-frontend forge_store_load >/dev/null
fi
for tool in "$BIN/forge_store_load" "$BIN/forge-broker" "$BIN/forge-frontend" \
  "$PG_BINDIR/initdb" "$PG_BINDIR/postgres" wrk curl ss; do
  command -v "$tool" >/dev/null || {
    echo "bench: $tool not found (build it, or scripts/install-deps.sh bench)" >&2
    exit 1
  }
done

WORK=$(mktemp -d /tmp/forge-scaleout.XXXXXX)
SHM_PREFIX=scaleout-$$
trap 'stop_all; rm -rf "$WORK" /dev/shm/mini-forge."$SHM_PREFIX"-*' EXIT
trap 'exit 130' INT TERM
trap 'echo "bench: failed at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR
REPORT=$WORK/report.txt

# total PORT NAME: the sum of every sample of counter NAME in /metrics
# (per-slot counters carry a label), or nothing when /metrics is down.
total() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s }'
}

# sum NAME: total NAME over both instances.
sum() { echo $(($(total "${PORT_OF[a]}" "$1") + $(total "${PORT_OF[b]}" "$1"))); }

# store_runs NAME URL: forge_store_load with each process count, ROUNDS
# times (a shared machine is noisy: compare rounds, quote the median).
store_runs() {
  local p r
  for r in $(seq "$ROUNDS"); do for p in $PROCS; do
    echo "bench: store $1, $p process(es), ${SECONDS_PER_RUN}s, round $r" >&2
    printf '%-10s ' "$1" >>"$REPORT"
    "$BIN/forge_store_load" --db-url "$2" --procs "$p" \
      --seconds "$SECONDS_PER_RUN" --range-size "$STORE_RANGE" |
      sed 's/^store=[^ ]* //' >>"$REPORT"
  done; done
}

declare -A PORT_OF  # instance name -> frontend port
declare -A PIDS_OF  # instance name -> "frontend-pid broker-pid"

# start_instance NAME RANGE_SIZE: broker + frontend on PostgreSQL, with a
# segment and a port of their own.
start_instance() {
  local name=$1 dir=$WORK/$1 port broker
  port=$(free_port)
  mkdir -p "$dir"
  # A private working directory: no config.yml or .env is picked up.
  (cd "$dir" && SHM_NAME="$SHM_PREFIX-$name" DB_URL="$PG_URL" \
    RANGE_SIZE=$2 POOL_CAPACITY=$POOL_CAPACITY \
    exec "$BIN/forge-broker" >>"$dir/broker.log" 2>&1) &
  broker=$!
  STARTED+=("$broker")
  (cd "$dir" && SHM_NAME="$SHM_PREFIX-$name" HOST=127.0.0.1 PORT=$port \
    WORKERS=$WORKERS KEEP_ALIVE_MAX=1000000 exec "$BIN/forge-frontend" \
    >>"$dir/frontend.log" 2>&1) &
  STARTED+=("$!")
  PORT_OF[$name]=$port
  PIDS_OF[$name]="$! $broker"
}

# stop_instance NAME: frontend, then broker (SIGTERM: it returns its hand).
stop_instance() {
  local pid
  for pid in ${PIDS_OF[$1]}; do stop_pid "$pid"; done
}

# system_run PATH: wrk on both instances at once for DURATION seconds;
# appends keys/s (served counters), requests/s and errors to the report.
system_run() {
  local path=$1 a=${PORT_OF[a]} b=${PORT_OF[b]} s0 s1 r0 r1 u0 u1 t0 t1 ja jb
  s0=$(sum forge_keys_served_total)
  r0=$(sum forge_ranges_reserved_total)
  u0=$(sum forge_unavailable_total)
  t0=$(date +%s%N)
  wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s -s "$LUA" \
    "http://127.0.0.1:$a$path" >"$WORK/wrk-a.out" 2>&1 &
  ja=$!
  STARTED+=("$ja")
  wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 2s -s "$LUA" \
    "http://127.0.0.1:$b$path" >"$WORK/wrk-b.out" 2>&1 &
  jb=$!
  STARTED+=("$jb")
  wait "$ja" "$jb" || true
  forget "$ja"
  forget "$jb"
  t1=$(date +%s%N)
  s1=$(sum forge_keys_served_total)
  r1=$(sum forge_ranges_reserved_total)
  u1=$(sum forge_unavailable_total)
  sed -n 's/^WRK //p' "$WORK/wrk-a.out" "$WORK/wrk-b.out" | awk \
    -v path="$path" -v keys=$((s1 - s0)) -v ns=$((t1 - t0)) \
    -v ranges=$((r1 - r0)) -v empty=$((u1 - u0)) '{
      for (i = 1; i <= NF; i++) {
        split($i, kv, "=")
        v[kv[1]] += kv[2]
        if (kv[1] == "p99_us" && kv[2] > p99) p99 = kv[2]  # worse of the two
      }
    } END {
      s = ns / 1e9
      printf "%-22s keys_per_s=%.0f requests_per_s=%.0f p99_ms=%.2f ",
        path, keys / s, v["requests"] / s, p99 / 1e3
      printf "errors=%d non2xx=%d of_which_503_empty_ring=%d ",
        v["connect"] + v["read"] + v["write"] + v["timeout"], v["status"],
        empty
      printf "reservations_per_s=%.1f\n", ranges / s
    }' >>"$REPORT"
}

# Two databases: PG_LOAD_URL for forge_store_load (KEY_LENGTH 10) and
# PG_URL for the brokers.
start_pg forge_load forge_system
PG_LOAD_URL=$(pg_url forge_load)
PG_URL=$(pg_url forge_system)
{
  echo "mini-forge scale-out bench, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "PostgreSQL $(pg_version) (fsync on, synchronous_commit on); SQLite WAL synchronous=FULL; $WORK on $(df --output=source "$WORK" | tail -1)"
  echo
  echo "1. Store capacity: forge_store_load --procs P --seconds $SECONDS_PER_RUN --range-size $STORE_RANGE"
} >"$REPORT"
store_runs sqlite "sqlite:$WORK/store.db"
store_runs postgresql "$PG_LOAD_URL"

{
  echo
  echo "2. Whole system: 2 x (forge-broker POOL_CAPACITY=$POOL_CAPACITY + forge-frontend WORKERS=$WORKERS) on one PostgreSQL;"
  echo "   wrk -t1 -c$CONNS -d${DURATION}s on each port at once; keys/s from forge_keys_served_total,"
  echo "   reservations/s from forge_ranges_reserved_total"
} >>"$REPORT"
for range in $RANGE_SIZES; do
  echo "RANGE_SIZE=$range" >>"$REPORT"
  for name in a b; do start_instance "$name" "$range"; done
  for name in a b; do
    wait_http "${PORT_OF[$name]}" /healthz 30 || {
      tail -n 5 "$WORK/$name"/*.log >&2
      exit 1
    }
  done
  for path in $PATHS; do
    echo "bench: system RANGE_SIZE=$range $path, ${DURATION}s" >&2
    system_run "$path"
  done
  for name in a b; do stop_instance "$name"; done
done

stop_all
cat "$REPORT"
if [ -n "${RESULTS:-}" ]; then cp "$REPORT" "$RESULTS"; fi

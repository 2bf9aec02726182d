#!/usr/bin/env bash
# bench/http.sh — mini-forge against nginx over loopback HTTP, in one run.
#
#   bench/http.sh              installs nginx-light/wrk/gnuplot if missing,
#                              builds Release into build-release, measures,
#                              writes bench/results/http-latest.{txt,png}
#   bench/http.sh --allow-busy the same on a busy machine (see below)
#
# A busy machine (1-minute load average above the core count) gives no
# result: the script exits 1 with one line before building when the load
# is above `nproc`, and again, measuring nothing, when after the build it
# does not fall to `nproc` within LOAD_WAIT=60 seconds. --allow-busy
# measures anyway and marks the report and the plot busy. The report
# records the load average before and after the run.
#
# Knobs (environment): WORKERS=2 (forge workers = nginx worker_processes),
# ROUNDS=3, DURATION=5 (seconds per wrk run), CONNS="8 64 256 1000",
# BATCHES="10 100 1000 10000", THREADS=<cores> (wrk threads),
# REFILL="100:4096 1000:4096 1000:65536" (RANGE_SIZE:POOL_CAPACITY of the
# refill runs),
# PIPELINE_DEPTH=16 (requests per write in the pipelining run, 64 conns),
# IDLE_WORKERS=4, SKIP_BUILD=1 (use the existing build-release),
# RESULTS=bench/results (where the .txt and .png go).
# Before/after: BASELINE_FRONTEND=/path/to/an/older/forge-frontend adds a
# GET /get-key comparison of the two at BASELINE_CONNS="64 256", interleaved
# like the rest; BASELINE_ONLY=1 runs only that (and writes no results).
#
# Besides HTTP, it runs forge_supply_bench (built into build-release with the
# rest): the broker's own supply in keys/s, reported next to the drain of
# /get-keys?count=10000, with the verdict "supply >= 2x drain".
#
# Every figure is measured against a reference in the same run, interleaved
# round by round (A B, then B A, …) so that the noise of a shared machine
# falls on both sides. Not a test: it asserts nothing and exits 0 whatever
# the numbers are; it fails only when something could not be run or the
# machine is busy (above).
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"
source "$ROOT/bench/lib/load_guard.sh"

ALLOW_BUSY=0
for arg in "$@"; do
  case $arg in
    --allow-busy) ALLOW_BUSY=1 ;;
    *)
      echo "bench/http.sh: unknown argument \"$arg\"; allowed: --allow-busy," \
        "-h, --help (settings are environment variables: see --help)" >&2
      exit 2
      ;;
  esac
done
load_gate bench/http.sh "$ALLOW_BUSY" # busy already: refused before building

WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-8 64 256 1000}
BATCHES=${BATCHES:-10 100 1000 10000}
THREADS=${THREADS:-$(nproc)}
IDLE_WORKERS=${IDLE_WORKERS:-4}
RESULTS=${RESULTS:-$ROOT/bench/results}
BIN=$ROOT/build-release/bin
LUA=$ROOT/bench/wrk_report.lua
COMMAND="bench/http.sh (WORKERS=$WORKERS ROUNDS=$ROUNDS DURATION=$DURATION)"

source "$ROOT/bench/lib/servers.sh"
source "$ROOT/bench/lib/measure.sh"
source "$ROOT/bench/lib/report.sh"

setup_bench wrk nginx gnuplot curl ss
trap 'echo "bench: failed at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR
ROWS=$WORK/rows.tsv
: >"$ROWS"

# Building raised the load: wait for it, then decide on the load now.
wait_for_quiet "${LOAD_WAIT:-60}" "$(nproc)"
load_gate bench/http.sh "$ALLOW_BUSY"
LOAD_BEFORE=$(load1)
# The product default: RANGE_SIZE auto (issue 18 §3).
start_forge steady auto 1048576 "$WORKERS"
start_nginx "$WORKERS"
wait_http "$FORGE_steady_PORT" /healthz 30
wait_http "$NGINX_PORT" /get-key 30

steady_url="http://127.0.0.1:$FORGE_steady_PORT"
nginx_url="http://127.0.0.1:$NGINX_PORT"

# measure SECTION KEY ROUND SERVER URL CONNS PIDS...: one run, one row.
measure() {
  local section=$1 key=$2 round=$3 server=$4 url=$5 conns=$6 line
  shift 6
  local served0=""
  # Batch answers: count keys with mini-forge's own served counter, so an
  # answer with fewer keys than asked is not counted as a full one.
  if [ "$section" = batch ] && [ "$server" = mini-forge ]; then
    served0=$(metric "$FORGE_steady_PORT" forge_keys_served_total)
  fi
  line=$(run_wrk "$url" "$conns" "$DURATION" "$@")
  if [ -n "$served0" ]; then
    line+=" keys=$(($(metric "$FORGE_steady_PORT" forge_keys_served_total) - served0))"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$section" "$key" "$round" "$server" "$line" \
    >>"$ROWS"
}

# pair SECTION KEY CONNS NAME_A URL_A PIDFN_A NAME_B URL_B PIDFN_B: ROUNDS
# rounds of A and B, alternating which goes first, after a 1 s warm-up each.
pair() {
  local section=$1 key=$2 conns=$3 r
  local -a a=("$4" "$5" "$6") b=("$7" "$8" "$9")
  wrk -t"$THREADS" -c"$conns" -d1s "${a[1]}" >/dev/null 2>&1 || true
  wrk -t"$THREADS" -c"$conns" -d1s "${b[1]}" >/dev/null 2>&1 || true
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
      measure "$section" "$key" "$r" "${a[0]}" "${a[1]}" "$conns" $(${a[2]})
      measure "$section" "$key" "$r" "${b[0]}" "${b[1]}" "$conns" $(${b[2]})
    else
      measure "$section" "$key" "$r" "${b[0]}" "${b[1]}" "$conns" $(${b[2]})
      measure "$section" "$key" "$r" "${a[0]}" "${a[1]}" "$conns" $(${a[2]})
    fi
    echo "bench: $section $key round $r done" >&2
  done
}

steady_pids() { forge_pids steady; }
before_pids() { forge_pids before; }

# 0. Optional: this build's frontend against an older one, same broker
# settings, each with its own broker.
if [ -n "${BASELINE_FRONTEND:-}" ]; then
  start_forge before auto 1048576 "$WORKERS" "$BASELINE_FRONTEND"
  wait_http "$FORGE_before_PORT" /healthz 30
  for c in ${BASELINE_CONNS:-64 256}; do
    pair baseline "$c" "$c" after "$steady_url/get-key" steady_pids \
      before "http://127.0.0.1:$FORGE_before_PORT/get-key" before_pids
  done
  stop_pid "$FORGE_before_MASTER"
  stop_pid "$FORGE_before_BROKER"
  if [ -n "${BASELINE_ONLY:-}" ]; then
    runs_table baseline after before conns
    load_line "$LOAD_BEFORE" "$(load1)" "$LOAD_VERDICT"
    exit 0
  fi
fi

# 1. GET /get-key against nginx's `return 200`, per connection count.
for c in $CONNS; do
  pair getkey "$c" "$c" mini-forge "$steady_url/get-key" steady_pids \
    nginx "$nginx_url/get-key" nginx_pids
done

# 1b. HTTP/1.1 pipelining: PIPELINE_DEPTH requests per write, 64 conns.
export PIPELINE_DEPTH=${PIPELINE_DEPTH:-16}
LUA=$ROOT/bench/wrk_pipeline.lua
pair pipeline "$PIPELINE_DEPTH" 64 mini-forge "$steady_url/get-key" steady_pids \
  nginx "$nginx_url/get-key" nginx_pids
LUA=$ROOT/bench/wrk_report.lua

# 2. /get-keys?count=N against nginx sending a static file of the same size;
# keys/s from mini-forge's own served counter, not from req/s × N.
for n in $BATCHES; do
  pair batch "$n" 64 mini-forge "$steady_url/get-keys?count=$n" steady_pids \
    nginx "$nginx_url/get-keys?count=$n" nginx_pids
done

# The broker's own supply (keys/s it can push), reported next to the drain
# of the largest batch.
SUPPLY_KPS=$(broker_supply "$ROUNDS")

# 3. Refill: brokers that reserve ranges all the time (RANGE_SIZE and
# POOL_CAPACITY from REFILL, as SIZE:CAPACITY) against one that holds
# 1,048,576 keys from 100,000-key ranges. REFILL_RANGES: ranges reserved.
REFILL_RANGES=()
for config in ${REFILL:-100:4096 1000:4096 1000:65536}; do
  size=${config%%:*}
  name=refill$size${config##*:}
  start_forge "$name" "$size" "${config##*:}" "$WORKERS"
  eval "refill_port=\$FORGE_${name}_PORT"
  wait_http "$refill_port" /healthz 30
  eval "refill_pids() { forge_pids $name; }"
  ranges0=$(metric "$refill_port" forge_ranges_reserved_total)
  pair refill "$config" 64 steady "$steady_url/get-key" steady_pids \
    refill "http://127.0.0.1:$refill_port/get-key" refill_pids
  ranges1=$(metric "$refill_port" forge_ranges_reserved_total)
  REFILL_RANGES+=("$config:$((${ranges1:-0} - ${ranges0:-0}))")
  eval "stop_pid \$FORGE_${name}_MASTER; stop_pid \$FORGE_${name}_BROKER"
done

# 4. Start to first key (fresh store each time), then idle CPU of the last.
FIRST_KEY_MS=()
for trial in 1 2 3; do
  if [ "$trial" -gt 1 ]; then
    stop_pid "$FORGE_idle_MASTER"
    stop_pid "$FORGE_idle_BROKER"
    # A fresh store next: the last trial's segment (kept by design) holds
    # keys of the old store, which a new broker rightly refuses to mix.
    "$BIN/forge-ctl" segment remove "bench-$$-idle" >/dev/null
  fi
  rm -rf "$WORK/idle"
  start_forge idle 1000 65536 "$IDLE_WORKERS"
  # Tight polling: the pause between tries would count as start-up time.
  wait_http "$FORGE_idle_PORT" /get-key 10 0
  FIRST_KEY_MS+=($((($(date +%s%N) - FORGE_idle_T0) / 1000000)))
done
sleep 1
idle0=$(cpu_ticks $(forge_pids idle))
t0=$(date +%s%N)
sleep 10
IDLE_PCT=$(awk -v t=$(($(cpu_ticks $(forge_pids idle)) - idle0)) \
  -v hz="$HZ" -v ns=$(($(date +%s%N) - t0)) \
  'BEGIN { printf "%.2f", 100 * t / hz / (ns / 1e9) }')

LOAD_AFTER=$(load1)
stop_all
write_report

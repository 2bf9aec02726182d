#!/usr/bin/env bash
# bench/namespaces.sh — what namespaces cost (issue 13), in one run.
#
#   bench/namespaces.sh        builds Release into build-release (like
#                              bench/http.sh), then measures:
#   1. idle CPU: a stack serving only `default` and a stack serving
#      `default` + 15 more namespaces (every one touched through HTTP, so
#      every worker has attached every segment), side by side over the same
#      IDLE_SECS; CPU time from /proc/PID/task/*/schedstat (nanoseconds) of
#      broker, master and workers. The verdict: 16 namespaces cost no more
#      idle CPU than one (ratio ≤ 1.5: both are tiny, a few ms per second,
#      and the figure is noisy).
#   2. request cost: GET /get-key (default) against GET /get-key?ns=n01 on
#      the 16-namespace stack, interleaved rounds (A B, then B A, …),
#      wrk -c CONNS; ratio of requests/s (non-default / default ≥ 0.95).
#   3. segment memory for 1, 16 and 64 namespaces at the default
#      capacities, from the sizes of the /dev/shm files a broker makes.
#
# Knobs (environment): WORKERS=2, ROUNDS=3, DURATION=5, CONNS=64,
# IDLE_SECS=10, SKIP_BUILD=1 (use the existing build-release).
# Not a test: it asserts nothing and exits 0 whatever the numbers are; it
# fails only when something could not be run. Each part waits (up to 60 s)
# for the load average to fall below the core count and prints the load it
# started at; a figure started above it is marked as not a result.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

source "$ROOT/bench/lib/defaults.sh"
IDLE_SECS=${IDLE_SECS:-10}

setup_bench wrk curl ss

# namespaces_yml N: a config.yml declaring n01..nN (7 characters).
namespaces_yml() {
  local i
  echo "namespaces:"
  for i in $(seq 1 "$1"); do printf '  n%02d: { key_length: 7 }\n' "$i"; done
}

# cpu_ns PID...: CPU time of every thread of those processes, nanoseconds.
cpu_ns() {
  local total=0 t pid
  for pid in "$@"; do
    for t in /proc/"$pid"/task/*/schedstat; do
      read -r t _ <"$t" 2>/dev/null || continue
      total=$((total + t))
    done
  done
  echo "$total"
}

# start_stack NAME NAMESPACES: start_forge with a config.yml declaring
# NAMESPACES-1 namespaces besides default; waits until each one answers.
start_stack() {
  local name=$1 n=$(($2 - 1)) port i
  mkdir -p "$WORK/$name/config"
  namespaces_yml "$n" >"$WORK/$name/config/config.yml"
  start_forge "$name" 1000 65536 "$WORKERS"
  eval "port=\$FORGE_${name}_PORT"
  wait_http "$port" /healthz 30
  for i in $(seq 1 "$n"); do
    wait_http "$port" "/get-key?ns=$(printf 'n%02d' "$i")" 30
    # Enough requests that every worker attaches the segment.
    for _ in $(seq 1 $((4 * WORKERS))); do
      curl -s "http://127.0.0.1:$port/get-key?ns=$(printf 'n%02d' "$i")" >/dev/null
    done
  done
}

start_stack one 1
start_stack sixteen 16

# 3. Memory, from the sizes of the segment files (what the broker made).
seg_bytes() {
  local f total=0
  for f in /dev/shm/mini-forge.bench-$$-"$1" /dev/shm/mini-forge.bench-$$-"$1"@*; do
    case $f in *.lock | *'@*') continue ;; esac
    total=$((total + $(stat -c %s "$f")))
  done
  echo "$total"
}
MEM_ONE=$(seg_bytes one)
MEM_SIXTEEN=$(seg_bytes sixteen)
# 64 namespaces: the same default segment plus 63 at the size of n01's.
N01=$(stat -c %s "/dev/shm/mini-forge.bench-$$-sixteen@n01")
DEFAULT_SEG=$(stat -c %s "/dev/shm/mini-forge.bench-$$-one")
MEM_64=$((DEFAULT_SEG + 63 * N01))

# 1. Idle CPU, both stacks over the same window.
IDLE_NOTE=$(quiet)
one0=$(cpu_ns $(forge_pids one))
six0=$(cpu_ns $(forge_pids sixteen))
oneb0=$(cpu_ns "$FORGE_one_BROKER")
sixb0=$(cpu_ns "$FORGE_sixteen_BROKER")
t0=$(date +%s%N)
sleep "$IDLE_SECS"
one1=$(cpu_ns $(forge_pids one))
six1=$(cpu_ns $(forge_pids sixteen))
oneb1=$(cpu_ns "$FORGE_one_BROKER")
sixb1=$(cpu_ns "$FORGE_sixteen_BROKER")
secs=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { print ns / 1e9 }')

# 2. Request cost: default vs a non-default namespace, interleaved.
port=$FORGE_sixteen_PORT
RPS_NOTE=$(quiet)
ab_rps "http://127.0.0.1:$port/get-key" "http://127.0.0.1:$port/get-key?ns=n01"
DEF=("${A_RPS[@]}") NS=("${B_RPS[@]}")

awk -v one=$((one1 - one0)) -v six=$((six1 - six0)) -v s="$secs" \
  -v oneb=$((oneb1 - oneb0)) -v sixb=$((sixb1 - sixb0)) \
  -v idle_note="$IDLE_NOTE" -v def="$(printf '%s\n' "${DEF[@]}" | median)" \
  -v ns="$(printf '%s\n' "${NS[@]}" | median)" -v rps_note="$RPS_NOTE" \
  -v defs="${DEF[*]}" -v nss="${NS[*]}" -v conns="$CONNS" -v w="$WORKERS" \
  -v m1="$MEM_ONE" -v m16="$MEM_SIXTEEN" -v m64="$MEM_64" 'BEGIN {
  printf "== bench/namespaces.sh (WORKERS=%s, wrk -c%s) ==\n", w, conns
  printf "idle CPU over %.1f s (%s):\n", s, idle_note
  printf "  1 namespace:   %.2f ms/s (%.3f%% of a core; broker %.2f, frontend %.2f)\n", one / s / 1e6, one / s / 1e7, oneb / s / 1e6, (one - oneb) / s / 1e6
  printf "  16 namespaces: %.2f ms/s (%.3f%% of a core; broker %.2f, frontend %.2f)\n", six / s / 1e6, six / s / 1e7, sixb / s / 1e6, (six - sixb) / s / 1e6
  printf "  ratio 16/1:    %.2f  %s\n", six / one, (six / one <= 1.5 ? "ok (<= 1.5)" : "MISSED (> 1.5)")
  printf "GET /get-key requests/s, median of rounds (%s):\n", rps_note
  printf "  default:       %d   (%s)\n", def, defs
  printf "  ?ns=n01:       %d   (%s)\n", ns, nss
  printf "  ratio ns/def:  %.3f  %s\n", ns / def, (ns / def >= 0.95 ? "ok (>= 0.95)" : "MISSED (< 0.95)")
  printf "segment memory: 1 namespace %.2f MiB, 16 namespaces %.2f MiB, 64 namespaces %.2f MiB\n",
    m1 / 1048576, m16 / 1048576, m64 / 1048576
}'

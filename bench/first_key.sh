#!/usr/bin/env bash
# bench/first_key.sh — start to first key alone (bench/http.sh step 4,
# issue 6: ≤ 100 ms), in a few seconds.
#
#   bench/first_key.sh         builds Release into build-release (like
#                              bench/http.sh), then TRIALS times: a fresh
#                              store, broker and frontend started together,
#                              GET /get-key polled with curl without pause
#                              until a 200; prints each time and the median.
#   BEFORE=/dir/with/old/bin   the same with that directory's forge-broker
#                              and forge-frontend too, trial by trial
#                              interleaved (A B, then B A, …).
#
# Knobs (environment): TRIALS=10, IDLE_WORKERS=4, SKIP_BUILD=1 (use the
# existing build-release). The load average before and after is printed:
# on a busy machine the figure is the machine's, not ours.
# Not a test: it asserts nothing and exits 0 whatever the numbers are.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"
source "$ROOT/bench/lib/load_guard.sh"

TRIALS=${TRIALS:-10}
IDLE_WORKERS=${IDLE_WORKERS:-4}
BIN=$ROOT/build-release/bin
source "$ROOT/bench/lib/servers.sh"
source "$ROOT/bench/lib/measure.sh"
setup_bench curl ss

# trial NAME BIN_DIR: ms from start to the first 200 (one fresh stack).
trial() {
  local name=$1 ms
  rm -rf "${WORK:?}/$name"
  BIN=$2 start_forge "$name" 1000 65536 "$IDLE_WORKERS" "$2/forge-frontend"
  eval "local port=\$FORGE_${name}_PORT t0=\$FORGE_${name}_T0"
  # Tight polling: the pause between tries would count as start-up time.
  wait_http "$port" /get-key 10 0 >&2
  ms=$((($(date +%s%N) - t0) / 1000000))
  eval "stop_pid \$FORGE_${name}_MASTER; stop_pid \$FORGE_${name}_BROKER"
  # The segment outlives its broker by design; the next store is new.
  "$BIN/forge-ctl" segment remove "bench-$$-$name" >/dev/null
  echo "$ms"
}

load_before=$(load1)
after=() before=()
for t in $(seq "$TRIALS"); do
  if [ -n "${BEFORE:-}" ] && [ $((t % 2)) = 0 ]; then
    before+=("$(trial before "$BEFORE")")
  fi
  after+=("$(trial after "$BIN")")
  if [ -n "${BEFORE:-}" ] && [ $((t % 2)) = 1 ]; then
    before+=("$(trial before "$BEFORE")")
  fi
done
echo "start to first key, ms (fresh store, broker and frontend together):"
echo "  this build: median $(printf '%s\n' "${after[@]}" | median)  [${after[*]}]"
if [ -n "${BEFORE:-}" ]; then
  echo "  $BEFORE: median $(printf '%s\n' "${before[@]}" | median)  [${before[*]}]"
fi
echo "  load average before $load_before, after $(load1) ($(nproc) cores)"

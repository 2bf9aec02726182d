# bench/lib/defaults.sh — the knobs and helpers every request-rate bench
# shares (bench/namespaces.sh, bench/policy.sh). Sourced, not run, after
# bench/lib/prologue.sh. Knobs (environment): WORKERS=2, ROUNDS=3,
# DURATION=5, CONNS=64, THREADS=nproc.
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-$(nproc)}
BIN=$ROOT/build-release/bin
LUA=$ROOT/bench/wrk_report.lua

source "$ROOT/bench/lib/servers.sh"
source "$ROOT/bench/lib/measure.sh"

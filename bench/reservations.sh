#!/usr/bin/env bash
# bench/reservations.sh — how often the store is asked for a range when
# RANGE_SIZE is left to the broker (issue 18 §3), in about a minute.
#
#   bench/reservations.sh              builds Release into build-release,
#                                      measures, writes
#                                      bench/results/reservations-latest.txt
#   bench/reservations.sh --allow-busy the same on a busy machine (the
#                                      report says BUSY)
#   bench/reservations.sh --smoke      2 s of each part (SECONDS_A/B), the
#                                      tables only: no load guard, nothing
#                                      written
#
# 1. One forge-broker at its default settings (SQLite store, RANGE_SIZE
#    unset = auto, POOL_CAPACITY 65536) drained at RATE_A=100000 keys/s for
#    SECONDS_A=20 s. Target: reservations fall to <= 1/s within 10 s of
#    the start and stay there.
# 2. BROKERS=4 forge-brokers (each its own SHM_NAME, default settings) on
#    one PostgreSQL database, drained at RATE_B=400000 keys/s in all for
#    SECONDS_B=25 s. Target: <= 10 reservations/s across the brokers in
#    every second after SETTLE_B=10 s.
#
# The keys are taken straight from the rings by forge_paced_drain
# (libforge-client, paced every millisecond); reservations per second come
# from the brokers' own counter (ranges_reserved, what `forge-ctl stats`
# and forge_ranges_reserved_total show), sampled every second; t counts
# from the brokers' start (the drain starts with them and takes keys as
# soon as a segment exists; what it could not take is "missed").
#
# Load guard (bench/lib/load_guard.sh, as bench/http.sh): refused (exit 1,
# one line, nothing written) when the 1-minute load average is above the
# core count, also LOAD_WAIT=60 s after the build; --allow-busy measures
# anyway and marks the report BUSY.
#
# Knobs (environment): the ones above, SKIP_BUILD=1 (use BIN as it is),
# BIN=build-release/bin, PG_BINDIR=/usr/lib/postgresql/15/bin,
# RESULTS=bench/results. Every process it starts is stopped by pid, its
# segments removed. Not a test: it asserts nothing and exits 0 whatever
# the numbers are; it fails only when something could not be run or the
# machine is busy.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"
source "$ROOT/bench/lib/load_guard.sh"

ALLOW_BUSY=0
SMOKE=0
for arg in "$@"; do
  case $arg in
    --allow-busy) ALLOW_BUSY=1 ;;
    --smoke) SMOKE=1 ;;
    *)
      echo "bench/reservations.sh: unknown argument \"$arg\"; allowed:" \
        "--allow-busy, --smoke, -h, --help (settings are environment" \
        "variables: see --help)" >&2
      exit 2
      ;;
  esac
done
[ "$SMOKE" = 1 ] || load_gate bench/reservations.sh "$ALLOW_BUSY"

SHORT=$([ "$SMOKE" = 1 ] && echo 2 || echo "")
RATE_A=${RATE_A:-100000}
SECONDS_A=${SECONDS_A:-${SHORT:-20}}
RATE_B=${RATE_B:-400000}
BROKERS=${BROKERS:-4}
SECONDS_B=${SECONDS_B:-${SHORT:-25}}
SETTLE_B=${SETTLE_B:-10}
BIN=${BIN:-$ROOT/build-release/bin}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
RESULTS=${RESULTS:-$ROOT/bench/results}

source "$ROOT/bench/lib/servers.sh"
source "$ROOT/bench/lib/postgres.sh"
source "$ROOT/bench/lib/report.sh" # verdict, le

setup_bench ss "$BIN/forge-broker" "$BIN/forge_paced_drain" \
  "$PG_BINDIR/initdb" "$PG_BINDIR/postgres"
trap 'echo "bench: failed at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR
if [ "$SMOKE" = 0 ]; then
  wait_for_quiet "${LOAD_WAIT:-60}" "$(nproc)"
  load_gate bench/reservations.sh "$ALLOW_BUSY"
fi
LOAD_BEFORE=$(load1)

# start_broker NAME DB_URL: forge-broker at its default settings (none of
# the range or pool settings from our environment), segment bench-$$-NAME.
start_broker() {
  local dir=$WORK/$1
  mkdir -p "$dir"
  # A private working directory: no config.yml or .env is picked up.
  (cd "$dir" && exec env -u RANGE_SIZE -u RANGE_SIZE_MIN -u RANGE_SIZE_MAX \
    -u POOL_CAPACITY SHM_NAME="bench-$$-$1" DB_URL="$2" "$BIN/forge-broker" \
    >"$dir/broker.log" 2>&1) &
  STARTED+=($!)
}

# drain RATE SECONDS NAME...: forge_paced_drain on those brokers' segments;
# its rows go to $WORK/rows-<first NAME>.
drain() {
  local rate=$1 secs=$2 name
  local -a shm=()
  shift 2
  for name in "$@"; do shm+=(--shm "bench-$$-$name"); done
  "$BIN/forge_paced_drain" --rate "$rate" --seconds "$secs" "${shm[@]}" \
    >"$WORK/rows-$1"
}

# AWK_ROW: awk code; row() loads a forge_paced_drain row's k=v fields into
# v[] and the reservations of all brokers into v["total"].
AWK_ROW='function row(  i, kv, n, r) { delete v
  for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  n = split(v["reserved"], r, ","); v["total"] = 0
  for (i = 1; i <= n; i++) v["total"] += r[i]
  v["brokers"] = n }'

# table ROWS: one line per second: keys taken, missed, ticks a ring was dry,
# how late the drain woke (ms), reservations (all brokers; each broker's in
# brackets when there are several), the brokers' latest range sizes.
table() {
  awk "$AWK_ROW"'{ row()
    if (NR == 1) printf "%6s %8s %7s %5s %7s %14s  %s\n", "second", "keys",
      "missed", "dry", "late ms", "reservations", "range size"
    each = v["brokers"] > 1 ? sprintf(" (%s)", v["reserved"]) : ""
    printf "%6s %8s %7s %5s %7s %14s  %s\n", v["t"], v["keys"], v["missed"],
      v["dry"], v["late_ms"], v["total"] each, v["size"] }' "$1"
  echo "keys: taken in that second; missed: due but not taken (dry ring, or" \
    "a late drain); dry: ticks (1 ms) a ring had no key for what was due;" \
    "late ms: the most a tick woke after its time (the machine, not mini-forge)"
}

# per_second ROWS: "SECOND RESERVATIONS" (all brokers) per row.
per_second() { awk "$AWK_ROW"'{ row(); print v["t"], v["total"] }' "$1"; }

# settled_at ROWS LIMIT: the start (s after the brokers' start) of the last
# run of seconds with at most LIMIT reservations that reaches the end;
# "never" when the last second is above LIMIT.
settled_at() {
  per_second "$1" | awk -v l="$2" '
    { if ($2 > l) from = ""; else if (from == "") from = $1 - 1 }
    END { print (from == "" ? "never" : from) }'
}

# after ROWS FROM: "MAX MEAN" reservations/s over the seconds after FROM.
after() {
  per_second "$1" | awk -v f="$2" '
    $1 > f { n++; s += $2; if ($2 > m) m = $2 }
    END { if (n) printf "%d %.1f\n", m, s / n; else print "nan nan" }'
}

echo "bench: 1. one broker (SQLite), $RATE_A keys/s, ${SECONDS_A}s" >&2
start_broker a "sqlite:$WORK/a/forge.db"
drain "$RATE_A" "$SECONDS_A" a
stop_all

echo "bench: 2. $BROKERS brokers on one PostgreSQL, $RATE_B keys/s, ${SECONDS_B}s" >&2
start_pg forge
names=()
for i in $(seq "$BROKERS"); do
  names+=("b$i")
  start_broker "b$i" "$(pg_url forge)"
done
drain "$RATE_B" "$SECONDS_B" "${names[@]}"
LOAD_AFTER=$(load1)
stop_all

settled=$(settled_at "$WORK/rows-a" 1)
read -r max_b mean_b <<<"$(after "$WORK/rows-b1" "$SETTLE_B")"
report() {
  echo "mini-forge store reservations with RANGE_SIZE auto, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: bench/reservations.sh$([ "$SMOKE" = 1 ] && echo " --smoke")" \
    "(RATE_A=$RATE_A SECONDS_A=$SECONDS_A RATE_B=$RATE_B BROKERS=$BROKERS" \
    "SECONDS_B=$SECONDS_B SETTLE_B=$SETTLE_B)"
  echo "machine: $(nproc) cores; PostgreSQL $(pg_version) (fsync on)," \
    "SQLite WAL synchronous=FULL"
  echo "binaries: ${BIN#"$ROOT"/}"
  if [ "$SMOKE" = 1 ]; then
    echo "load average (1 min) before the run: $LOAD_BEFORE, after:" \
      "$LOAD_AFTER — a smoke run: not a measurement"
  else
    load_line "$LOAD_BEFORE" "$LOAD_AFTER" "$LOAD_VERDICT"
  fi
  echo
  echo "== 1. One broker, default settings (SQLite), $RATE_A keys/s =="
  table "$WORK/rows-a"
  echo
  echo "== 2. $BROKERS brokers, default settings, one PostgreSQL, $RATE_B keys/s in all =="
  table "$WORK/rows-b1"
  echo
  echo "Targets (issue 18 §3; reservations from the brokers' ranges_reserved, per second)"
  verdict "1 broker, $RATE_A keys/s: <= 1/s within 10 s (from $settled s on)" \
    "$([ "$settled" = never ] && echo 0 || le "$settled" 10)"
  verdict "$BROKERS brokers, $RATE_B keys/s: <= 10/s after ${SETTLE_B} s (max $max_b, mean $mean_b)" \
    "$(le "$max_b" 10)"
}
if [ "$SMOKE" = 1 ]; then
  report
else
  mkdir -p "$RESULTS"
  report | tee "$RESULTS/reservations-latest.txt"
  echo
  echo "wrote $RESULTS/reservations-latest.txt"
fi

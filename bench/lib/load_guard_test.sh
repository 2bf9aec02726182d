#!/usr/bin/env bash
# bench/lib/load_guard_test.sh — CTest bench.load_guard: the load-average
# guard of bench/http.sh (bench/lib/load_guard.sh) with faked load values,
# and the refusal of bench/http.sh and bench/reservations.sh on a busy
# machine and their arguments. Builds, starts and measures nothing (the
# refusal comes before any of it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib/load_guard.sh

failed=0
# check WHAT GOT WANT
check() {
  if [ "$2" = "$3" ]; then
    echo "ok    $1"
  else
    echo "FAIL  $1: got \"$2\", want \"$3\""
    failed=1
  fi
}
# contains WHAT TEXT PART
contains() {
  case $2 in
    *"$3"*) echo "ok    $1" ;;
    *) echo "FAIL  $1: \"$2\" lacks \"$3\"" && failed=1 ;;
  esac
}

check "0.50 on 2 cores" "$(load_verdict 0.50 2 0)" quiet
check "2.00 on 2 cores: not above" "$(load_verdict 2.00 2 0)" quiet
check "2.01 on 2 cores" "$(load_verdict 2.01 2 0)" refuse
check "54.00 on 2 cores, --allow-busy" "$(load_verdict 54.00 2 1)" busy
check "10.50 on 16 cores" "$(load_verdict 10.50 16 0)" quiet
check "quiet report line" "$(load_line 0.42 1.37 quiet)" \
  "load average (1 min) before the run: 0.42, after: 1.37"
contains "busy report line" "$(load_line 54.00 50.10 busy)" \
  "before the run: 54.00, after: 50.10 — BUSY: above the $(nproc) cores"
check "busy plot stamp" "$(load_stamp 54.00 busy)" "load 54.00 (BUSY)"
check "quiet plot stamp" "$(load_stamp 0.42 quiet)" "load 0.42"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
busy=$(($(nproc) + 7)).25
echo "$busy 3.00 2.00 2/345 6789" >"$tmp/loadavg"
check "load1 reads LOADAVG" "$(LOADAVG=$tmp/loadavg load1)" "$busy"

# Each guarded bench on a (faked) busy machine: exit 1 with one line,
# before installing, building or writing anything.
for script in bench/http.sh bench/reservations.sh; do
  rc=0
  err=$(LOADAVG=$tmp/loadavg RESULTS=$tmp/results $script 2>&1 >/dev/null) ||
    rc=$?
  check "$script busy: exit code" "$rc" 1
  check "$script busy: one line" "$(printf '%s\n' "$err" | wc -l)" 1
  contains "$script busy: says why" "$err" \
    "$script: load average $busy is above the $(nproc) cores"
  contains "$script busy: names the flag" "$err" "pass --allow-busy"
  check "$script busy: no results written" "$(ls -A "$tmp" | tr '\n' ' ')" \
    "loadavg "

  rc=0
  err=$($script --no-such-flag 2>&1 >/dev/null) || rc=$?
  check "$script unknown argument: exit code" "$rc" 2
  contains "$script unknown argument: says which" "$err" \
    'unknown argument "--no-such-flag"; allowed: --allow-busy'

  contains "$script --help documents --allow-busy" "$($script --help)" \
    "$script --allow-busy"
done
exit "$failed"

#!/usr/bin/env bash
# bench/lib/reservations_smoke.sh — CTest bench.reservations_smoke: runs
# bench/reservations.sh --smoke (2 s of each part, on the build's own
# binaries: BIN, SKIP_BUILD=1) and checks that it prints both tables, a row
# per second with keys taken, and the two verdict lines. The figures are not
# checked: a few seconds on a busy CI machine are no measurement.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=$(bench/reservations.sh --smoke)
echo "$out"
failed=0
# expect WHAT COUNT REGEX: COUNT lines of the output match REGEX.
expect() {
  local got
  got=$(grep -cE "$3" <<<"$out" || true)
  if [ "$got" = "$2" ]; then
    echo "ok    $1"
  else
    echo "FAIL  $1: $got lines match /$3/, want $2"
    failed=1
  fi
}
expect "two tables" 2 '^ *second +keys +missed +dry +late ms +reservations +range size$'
expect "2 rows per table, keys taken in the last" 2 '^ +2 +[1-9][0-9]* +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+'
expect "rows of 1 broker" 2 '^ +[12]( +[0-9]+){5}  [0-9]+$'
expect "rows of 4 brokers" 2 '^ +[12]( +[0-9]+){5} \([0-9]+(,[0-9]+){3}\)  [0-9]+(,[0-9]+){3}$'
expect "two verdicts" 2 '^  [14] brokers?, .* (met|NOT met|not measured)$'
exit "$failed"

#!/usr/bin/env bash
# bench/policy.sh — what key policies cost (issue 14), in one run.
#
#   bench/policy.sh            builds Release into build-release (like
#                              bench/http.sh), then measures:
#   1. broker encode throughput per alphabet preset, with and without the
#      built-in blocklist (and with a luhn check character): the codec
#      micro-benchmarks (bench/micro/codec_bench.cpp), keys per second of
#      one core. The HTTP demand below is the figure to beat.
#   2. request cost: GET /get-key (default: base62, no blocklist) against
#      GET /get-key?ns=b58 (base58, 7 characters, blocklist default) on one
#      stack, interleaved rounds (A B, then B A, …), wrk -c CONNS; ratio of
#      requests/s (b58 / default ≥ 0.95: blocked numbers are skipped by the
#      broker, so a worker's work per request is the same).
#
# Knobs (environment): WORKERS=2, ROUNDS=3, DURATION=5, CONNS=64,
# SKIP_BUILD=1 (use the existing build-release).
# Not a test: it asserts nothing and exits 0 whatever the numbers are; it
# fails only when something could not be run. Each part waits (up to 60 s)
# for the load average to fall below the core count and prints the load it
# started at; a figure started above it is marked as not a result.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

source "$ROOT/bench/lib/defaults.sh"

setup_bench wrk curl ss

# 1. Encode throughput (one core, Google Benchmark's items_per_second).
ENCODE_NOTE=$(quiet)
# EncodeFiltered/<preset>[_luhn][_blocklist]: scrambled (lengths in
# bench/micro/codec_bench.cpp: 7 for base62/58, 8, 12 digits, 10 hex), one
# key encoded (and checked against the list) per iteration; CSV field 4 is
# the CPU time per iteration in ns.
"$BIN/forge_micro_bench" --benchmark_filter='EncodeFiltered' \
  --benchmark_min_time=0.2 --benchmark_format=csv 2>/dev/null |
  awk -F, '/^"EncodeFiltered/ { gsub(/"/, "", $1); sub(/^EncodeFiltered\//, "", $1)
    printf "%s %.0f %.1f\n", $1, 1e9 / $4, $4 }' >"$WORK/encode.txt"

# 2. Request cost, one stack serving default and b58.
mkdir -p "$WORK/stack/config"
cat >"$WORK/stack/config/config.yml" <<'YML'
namespaces:
  b58: { key_length: 7, alphabet: base58, blocklist: default }
YML
start_forge stack 1000 65536 "$WORKERS"
port=$FORGE_stack_PORT
wait_http "$port" /healthz 30
wait_http "$port" "/get-key?ns=b58" 30
RPS_NOTE=$(quiet)
ab_rps "http://127.0.0.1:$port/get-key" "http://127.0.0.1:$port/get-key?ns=b58"
BLOCKED=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk '/^forge_keys_blocked_total\{namespace="b58"/ { print $2 }')

echo "== bench/policy.sh (WORKERS=$WORKERS, wrk -c$CONNS) =="
echo "broker encode, keys/s of one core ($ENCODE_NOTE):"
awk '{ printf "  %-28s %12.0f keys/s  (%s ns/key)\n", $1, $2, $3 }' "$WORK/encode.txt"
awk -v def="$(printf '%s\n' "${A_RPS[@]}" | median)" \
  -v b58="$(printf '%s\n' "${B_RPS[@]}" | median)" -v note="$RPS_NOTE" \
  -v defs="${A_RPS[*]}" -v b58s="${B_RPS[*]}" -v blocked="${BLOCKED:-?}" 'BEGIN {
  printf "GET /get-key requests/s, median of rounds (%s):\n", note
  printf "  default (base62, no blocklist): %d   (%s)\n", def, defs
  printf "  ?ns=b58 (base58, blocklist):    %d   (%s)\n", b58, b58s
  printf "  ratio b58/default:              %.3f  %s\n", b58 / def, (b58 / def >= 0.95 ? "ok (>= 0.95)" : "MISSED (< 0.95)")
  printf "  numbers the b58 broker skipped as blocked: %s\n", blocked
}'

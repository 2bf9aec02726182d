#!/usr/bin/env bash
# bench/clients_go.sh — the Go buffered HTTP client against an unbuffered
# http.Get loop (issue 15), in one run; called by bench/clients.sh, or run
# alone.
#
#   One forge stack (broker + frontend, WORKERS workers); CONNS goroutines
#   for DURATION seconds take keys one at a time:
#   A: from one shared clients/go http.Client (GetKey; refills with
#      /get-keys?count=BATCH in the background);
#   B: each with its own GET /get-key (Go's net/http, keep-alive).
#   Interleaved rounds (A B, then B A, ...); prints the medians:
#   go buffered GetKey vs http.Get (CONNS goroutines): A ops/s vs B ops/s =
#   ratio (target ≥ 50); load at start and end
#
# Knobs (environment): WORKERS=2, ROUNDS=3, DURATION=5, CONNS=64,
# BATCH=1000, SKIP_BUILD=1 (use the existing build-release). Go: /usr/bin/go
# (GO overrides), no module downloads; its cache lives in
# build-release/go-state. Not a test: it asserts nothing and exits 0
# whatever the numbers are.
set -euo pipefail
source "$(dirname "$0")/lib/prologue.sh"

source "$ROOT/bench/lib/defaults.sh"
BATCH=${BATCH:-1000}
GO=${GO:-/usr/bin/go}

setup_bench curl ss "$GO"

echo "bench: building clients/go/internal/cmd/benchhttp" >&2
mkdir -p "$ROOT/build-release/go-state"
(cd "$ROOT/clients/go" &&
  GOPROXY=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
    GOCACHE="$ROOT/build-release/go-state/cache" \
    GOPATH="$ROOT/build-release/go-state/path" \
    "$GO" build -o "$WORK/benchhttp" ./internal/cmd/benchhttp)

start_forge go 100000 1048576 "$WORKERS"
wait_http "$FORGE_go_PORT" /healthz 30
url=http://127.0.0.1:$FORGE_go_PORT

# ops_per_s MODE: keys per second of one benchhttp run.
ops_per_s() {
  "$WORK/benchhttp" -url "$url" -mode "$1" -c "$CONNS" -d "$DURATION" \
    -batch "$BATCH" | awk '{ printf "%d\n", $1 / $2 }'
}

note=$(quiet)
a=() b=()
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    a+=("$(ops_per_s buffered)") b+=("$(ops_per_s get)")
  else
    b+=("$(ops_per_s get)") a+=("$(ops_per_s buffered)")
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
A=$(median "${a[@]}") B=$(median "${b[@]}")
awk -v a="$A" -v b="$B" -v c="$CONNS" -v note="$note" -v end="$(load_note)" 'BEGIN {
  printf "go buffered GetKey vs http.Get (%d goroutines): %d ops/s vs %d ops/s = %.1f (target ≥ 50); %s at start, %s at end\n",
    c, a, b, (b > 0 ? a / b : 0), note, end }'

#!/usr/bin/env bash
# clients/go/test_http.sh — the Go module without cgo (package http and
# everything not behind the forgeshm tag) against the real binaries in
# $FORGE_BIN_DIR. CTest: clients.go.
set -euo pipefail
source "$(dirname "$0")/go_env.sh"
CGO_ENABLED=0 "$GO" test -count=1 -timeout 120s "$@" ./...

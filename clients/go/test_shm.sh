#!/usr/bin/env bash
# clients/go/test_shm.sh — package shm (cgo, -tags forgeshm) built against
# the staged install of libforge-client in $FORGE_CLIENT_STAGE
# (include/forge/client.h, lib/libforge-client.so), tested against the
# real binaries in $FORGE_BIN_DIR. CTest: clients.go_shm.
set -euo pipefail
source "$(dirname "$0")/go_env.sh"
stage=${FORGE_CLIENT_STAGE:?set FORGE_CLIENT_STAGE to the staged install (cmake --install BUILD --prefix STAGE)}
export CGO_ENABLED=1 CGO_CFLAGS="-I$stage/include"
export CGO_LDFLAGS="-L$stage/lib -Wl,-rpath,$stage/lib"
"$GO" test -tags forgeshm -count=1 -timeout 120s "$@" ./shm/

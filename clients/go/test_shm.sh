#!/usr/bin/env bash
# clients/go/test_shm.sh — package shm (cgo, -tags forgeshm) built against
# the staged install of libforge-client in $FORGE_CLIENT_STAGE
# (include/forge/client.h, lib/libforge-client.so, its forge-client.pc),
# tested against the real binaries in $FORGE_BIN_DIR. CTest: clients.go_shm.
set -euo pipefail
source "$(dirname "$0")/go_env.sh"
stage=${FORGE_CLIENT_STAGE:?set FORGE_CLIENT_STAGE to the staged install (cmake --install BUILD --prefix STAGE)}
# The package finds the library with pkg-config (#cgo pkg-config); the
# test binary gets the stage's lib/ as its run path (-r). No CGO_CFLAGS:
# changing them would rebuild the standard library's cgo packages.
export CGO_ENABLED=1 PKG_CONFIG_PATH=$stage/lib/pkgconfig
"$GO" test -tags forgeshm -count=1 -timeout 120s -ldflags="-r $stage/lib" "$@" ./shm/

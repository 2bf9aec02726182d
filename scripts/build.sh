#!/usr/bin/env bash
# Configures and builds mini-forge into ${BUILD_DIR:-build} (programs land
# in build/bin/). Extra arguments go to the cmake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

#!/usr/bin/env bash
# Configures and builds mini-forge into ${BUILD_DIR:-build} (programs land
# in build/bin/). Extra arguments go to the cmake configure step.
#   BUILD_TYPE=Release      build type (default RelWithDebInfo)
#   BUILD_TARGET=name       build only that target (default: everything)
#   CMAKE_CXX_COMPILER_LAUNCHER=...  compiler launcher for a new build
#       directory; unset means ccache when it is installed, "" means none.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-RelWithDebInfo}
if [ -z "${CMAKE_CXX_COMPILER_LAUNCHER+set}" ] && command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
target=()
[ -n "${BUILD_TARGET:-}" ] && target=(--target "$BUILD_TARGET")
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" "${target[@]}"

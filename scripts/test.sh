#!/usr/bin/env bash
# One command for every test: installs what is missing, builds, runs the
# whole suite with CTest (unit and process-level integration tests).
#   scripts/test.sh                 # normal build in ./build
#   scripts/test.sh --sanitize address   # ASan+UBSan build in ./build-asan
#   scripts/test.sh --sanitize thread    # TSan build in ./build-tsan
# Extra arguments after -- go to ctest (e.g. -- -R Ring).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=${2:-}; shift 2 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown argument '$1'; allowed: --sanitize address|thread, -- CTEST_ARGS" >&2
       exit 2 ;;
  esac
done

scripts/install-deps.sh test
case "$sanitize" in
  "") build_dir=${BUILD_DIR:-build} ;;
  address) build_dir=${BUILD_DIR:-build-asan}; export FORGE_TEST_SCALE=${FORGE_TEST_SCALE:-0.2} ;;
  thread) build_dir=${BUILD_DIR:-build-tsan}; export FORGE_TEST_SCALE=${FORGE_TEST_SCALE:-0.2} ;;
  *) echo "test.sh: --sanitize '$sanitize'; allowed: address, thread" >&2; exit 2 ;;
esac
BUILD_DIR=$build_dir scripts/build.sh -DFORGE_SANITIZE="$sanitize"

# Process-level tests raise their own limits; give them room to.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 "${ctest_args[@]}"

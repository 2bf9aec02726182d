#!/usr/bin/env bash
# One command for every test: installs what is missing, builds (tests
# always on), runs the whole suite with CTest (unit and process-level
# integration tests).
#   scripts/test.sh                      # normal build in ./build
#   scripts/test.sh --ci                 # as CI runs it (also when CI=true):
#                                        # + ASan/UBSan unit suites and fuzz
#                                        # corpus replay, and a skipped test
#                                        # fails the run
#   scripts/test.sh --sanitize address   # whole suite, ASan+UBSan, ./build-asan
#   scripts/test.sh --sanitize thread    # whole suite, TSan, ./build-tsan
# Extra arguments after -- go to ctest (e.g. -- -R Ring).
# A run that finds no test fails (--no-tests=error). The build uses ccache
# when it is installed (see scripts/build.sh); nothing needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
ci=false
[ "${CI:-}" = true ] && ci=true
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=true; shift ;;
    --sanitize) sanitize=${2:-}; shift 2 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown argument '$1'; allowed: --ci, --sanitize address|thread, -- CTEST_ARGS" >&2
       exit 2 ;;
  esac
done
# The tests read CI too: under CI=true the deploy check fails where it
# would skip (tests/deploy/check_deploy.sh).
[ "$ci" = true ] && export CI=true

scripts/install-deps.sh test
case "$sanitize" in
  "") build_dir=${BUILD_DIR:-build} ;;
  address) build_dir=${BUILD_DIR:-build-asan}; export FORGE_TEST_SCALE=${FORGE_TEST_SCALE:-0.2} ;;
  thread) build_dir=${BUILD_DIR:-build-tsan}; export FORGE_TEST_SCALE=${FORGE_TEST_SCALE:-0.2} ;;
  *) echo "test.sh: --sanitize '$sanitize'; allowed: address, thread" >&2; exit 2 ;;
esac

# Process-level tests raise their own limits; give them room to.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Under CI a test CTest reports as not run (a GTEST_SKIP, a disabled test)
# fails the run: the junit report lists them as status="notrun"/"disabled".
no_skips() {  # $1 = junit file
  [ "$ci" = true ] || return 0
  local skipped=()
  mapfile -t skipped < <(grep -oE '<testcase name="[^"]*"[^>]*status="(notrun|disabled)"' "$1" |
    sed -E 's/<testcase name="([^"]*)".*/\1/')
  [ ${#skipped[@]} -eq 0 ] && return 0
  echo "test.sh: CI=true and these tests did not run (a skip fails CI; give" \
    "them what they need; each one's reason is in $1):" >&2
  printf '  %s\n' "${skipped[@]}" >&2
  return 1
}

run_ctest() {  # $1 = build dir; rest = ctest arguments
  local dir=$1
  shift
  local junit=$PWD/$dir/ctest-junit.xml
  rm -f "$junit"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 \
    --timeout 600 --output-junit "$junit" "$@"
  no_skips "$junit"
}

# Line tables only (-g1): backtraces keep file:line, the build takes a
# third less time than with full debug info (measured on 2 cores).
# Unity build (16 sources per compiler run): each test file parses
# GoogleTest and our headers once per batch instead of once per file;
# measured on the frontend and ctl test targets: 54 CPU-s instead of 128.
# It makes file-local names of one folder share a scope, so two
# anonymous-namespace helpers of one name in one target fail this build.
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
BUILD_DIR=$build_dir scripts/build.sh -DFORGE_BUILD_TESTS=ON "${unity[@]}" \
  -DFORGE_SANITIZE="$sanitize" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
run_ctest "$build_dir" "${ctest_args[@]}"

# CI, after the normal suite: the unit suites and the fuzz corpus replay
# (label "unit") under ASan+UBSan, building only what they need.
if [ "$ci" = true ] && [ -z "$sanitize" ]; then
  asan_dir=${ASAN_BUILD_DIR:-build-asan}
  echo "test.sh: CI: unit suites and fuzz corpus under ASan+UBSan ($asan_dir)" >&2
  BUILD_DIR=$asan_dir BUILD_TARGET=forge_unit_tests scripts/build.sh \
    -DFORGE_BUILD_TESTS=ON -DFORGE_BUILD_BENCH=OFF -DFORGE_SANITIZE=address "${unity[@]}" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
  FORGE_TEST_SCALE=${FORGE_TEST_SCALE:-0.2} run_ctest "$asan_dir" -L '^unit$'
fi

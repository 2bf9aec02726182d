#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, every project file
# instrumented) in ${BUILD_DIR:-build-fuzz} and runs each for a bounded time.
#   scripts/fuzz.sh                    # every target, 60 s each
#   scripts/fuzz.sh -t 300 query_fuzz  # one target, 5 minutes
#   scripts/fuzz.sh -j 2               # 2 fuzzing jobs per target
# New inputs that grow coverage are kept in ${BUILD_DIR}/corpus/<target>/;
# the seed corpus tests/fuzz/corpus/<target>/ is read, never written. A
# crash leaves ${BUILD_DIR}/artifacts/<target>/crash-*: fix the bug, then
# copy the file into tests/fuzz/corpus/<target>/ so the normal build's
# <target>_corpus test (CTest) keeps checking it.
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(config_fuzz query_fuzz)
seconds=60
jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds=${2:?-t needs seconds}; shift 2 ;;
    -j) jobs=${2:?-j needs a count}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'; allowed: -t SECONDS, -j JOBS, TARGET..." >&2
        exit 2 ;;
    *) break ;;
  esac
done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")
for t in "${targets[@]}"; do
  case " ${targets_all[*]} " in
    *" $t "*) ;;
    *) echo "fuzz.sh: unknown target '$t'; allowed: ${targets_all[*]}" >&2; exit 2 ;;
  esac
done
for n in "$seconds" "$jobs"; do
  case "$n" in ''|*[!0-9]*) echo "fuzz.sh: '$n' is not a whole number (-t SECONDS, -j JOBS)" >&2; exit 2 ;; esac
done

build_dir=${BUILD_DIR:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is required (apt-get install clang)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFORGE_FUZZ=ON -DFORGE_BUILD_BENCH=OFF -DFORGE_SANITIZE= >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"

status=0
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${seconds}s, corpus $corpus (seeds tests/fuzz/corpus/$t)"
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  if ! "$build_dir/bin/$t" "$corpus" "tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=4096 -artifact_prefix="$artifacts/" -print_final_stats=1 \
      "${parallel[@]}"; then
    echo "== $t: FAILED, see $artifacts/" >&2
    status=1
  fi
done
exit $status

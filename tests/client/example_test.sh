#!/usr/bin/env bash
# tests/client/example_test.sh MODE — builds examples/c against the STAGED
# client install only (never the build tree), then runs it against a real
# forge-broker (temp SQLite store, unique SHM_NAME) started here and
# stopped by its pid; removes the broker's /dev/shm files.
#   MODE cmake:     find_package(ForgeClient) (shared and static targets)
#   MODE pkgconfig: cc example.c $(pkg-config --cflags --libs forge-client)
# Env: FORGE_CLIENT_STAGE (the stage), FORGE_BIN_DIR (forge-broker),
#      EXAMPLE_DIR (examples/c).
set -euo pipefail
mode=$1
stage=${FORGE_CLIENT_STAGE:?}
work=$(mktemp -d)
shm="t-example-$$-$RANDOM"
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -f /dev/shm/mini-forge."$shm" /dev/shm/mini-forge."$shm".lock
  rm -rf "$work"
}
trap cleanup EXIT

programs=()
case $mode in
  cmake)
    cmake -S "$EXAMPLE_DIR" -B "$work/build" -DCMAKE_PREFIX_PATH="$stage" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/configure.log" ||
      { cat "$work/configure.log"; exit 1; }
    cmake --build "$work/build" >"$work/build.log" ||
      { cat "$work/build.log"; exit 1; }
    programs=("$work/build/forge-client-example"
              "$work/build/forge-client-example-static")
    ;;
  pkgconfig)
    export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
    # shellcheck disable=SC2046  # pkg-config's words are meant to split
    cc -Wall -Werror -o "$work/example" "$EXAMPLE_DIR/example.c" \
      $(pkg-config --cflags --libs forge-client) -Wl,-rpath,"$stage/lib"
    programs=("$work/example")
    ;;
  *) echo "usage: $0 cmake|pkgconfig" >&2; exit 2 ;;
esac
# The shared example must use the staged library.
if ldd "${programs[0]}" | grep -q libforge-client; then
  ldd "${programs[0]}" | grep libforge-client | grep -q "$stage/lib" ||
    { echo "not linked to the staged library:"; ldd "${programs[0]}"; exit 1; }
fi

cd "$work"
SHM_NAME=$shm DB_URL="sqlite:$work/forge.db" "$FORGE_BIN_DIR/forge-broker" \
  2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 200); do
  [ -e "/dev/shm/mini-forge.$shm" ] && break
  sleep 0.05  # polling for the segment, with a deadline (10 s)
done
[ -e "/dev/shm/mini-forge.$shm" ] ||
  { echo "forge-broker made no segment:"; cat "$work/broker.log"; exit 1; }

for program in "${programs[@]}"; do
  out=$(SHM_NAME=$shm "$program") ||
    { echo "$program failed:"; echo "$out"; exit 1; }
  echo "$out"
  keys=$(echo "$out" | grep -cE '^[0-9A-Za-z]{7}$' || true)
  [ "$keys" -eq 3 ] || { echo "expected 3 keys from $program"; exit 1; }
  echo "$out" | grep -q "^error 5: no such namespace" ||
    { echo "expected the ENONS line from $program"; exit 1; }
done

#!/usr/bin/env bash
# One command for a new user: installs what is missing, builds, and runs a
# broker plus a frontend on the embedded SQLite store (./data/forge.db).
# Configuration comes from flags after the script name, the environment,
# ./.env and ./config/config.yml, as for each program (README, DESIGN §7).
# Ctrl-C (or SIGTERM) stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh

bin=${BUILD_DIR:-build}/bin
broker_pid=""
frontend_pid=""
stop() {
  trap - INT TERM
  [ -n "$frontend_pid" ] && kill -TERM "$frontend_pid" 2>/dev/null || true
  [ -n "$frontend_pid" ] && wait "$frontend_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && wait "$broker_pid" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM

"$bin/forge-broker" "$@" &
broker_pid=$!
"$bin/forge-frontend" "$@" &
frontend_pid=$!

# forge-frontend logs the URL it serves on once it listens.
echo "mini-forge: broker pid $broker_pid, frontend pid $frontend_pid;" \
  "Ctrl-C stops both" >&2

# Exit as soon as either program stops on its own, stopping the other.
set +e
wait -n "$broker_pid" "$frontend_pid"
code=$?
stop
exit "$code"

#!/bin/sh
# clients/python/run_tests.sh [PYTEST ARGS...] — the miniforge tests
# (tests/), run by CTest as clients.python. Needs FORGE_BIN_DIR (the real
# forge-broker and forge-frontend) and FORGE_CLIENT_LIB (libforge-client.so).
# Writes nothing into the source tree: no pytest cache, no __pycache__.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# Debian's python3 (it has pytest); python3 on PATH may be another one.
[ $# -gt 0 ] || set -- "$here/tests"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q --rootdir "$here" "$@"

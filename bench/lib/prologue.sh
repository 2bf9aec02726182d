# bench/lib/prologue.sh — what every bench script does first. Sourced, not
# run, by a script in bench/ right after `set -euo pipefail`: moves to the
# repository root (ROOT) and answers -h/--help with the script's header
# comment (its lines 2 to `set -euo`).
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

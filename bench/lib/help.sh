# shellcheck shell=bash
# bench/lib/help.sh — answers -h / --help with the calling script's head
# comment (its lines from 2 to `set -euo`) and exits 0; otherwise does
# nothing. Use: source "$ROOT/bench/lib/help.sh" "$0" "${1:-}"
if [ "$2" = -h ] || [ "$2" = --help ]; then
  sed -n '2,/^set -euo/p' "$1" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

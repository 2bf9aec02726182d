#!/usr/bin/env bash
# tests/docs/openapi_lint.sh — docs/openapi.yaml through a maintained
# validator: `redocly lint` (npm package @redocly/cli, pinned below) with
# the checked-in rules of docs/redocly.yaml. CTest: docs.openapi_lint.
#
# The package is installed once into the npm tool cache every npm-using test
# shares, ${FORGE_NPM_CACHE:-$HOME/.cache/mini-forge/npm}/<package>@<version>/,
# and reused from there (about 10 s the first time, one 15 MB package). The
# install goes to a temporary folder first and is renamed into place, so a
# half-finished install is never taken for a finished one. No npm, no
# registry, a failed install, an error or a warning: the test fails.
set -euo pipefail

readonly package=@redocly/cli
readonly version=2.77.0

src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FORGE_NPM_CACHE:-$HOME/.cache/mini-forge/npm}
dir=$cache/$package@$version
bin=$dir/node_modules/.bin/redocly

fail() {
  echo "docs.openapi_lint: $*" >&2
  exit 1
}

installed() {
  [[ -x $bin ]] && grep -q "\"version\": \"$version\"" \
    "$dir/node_modules/$package/package.json" 2>/dev/null
}

install() {
  command -v npm >/dev/null ||
    fail "npm is not on PATH: install Node.js 20.19+ with npm to lint docs/openapi.yaml"
  mkdir -p "$(dirname "$dir")"
  local tmp
  tmp=$(mktemp -d "$(dirname "$dir")/.install.XXXXXX")
  chmod 755 "$tmp"
  local started=$SECONDS
  if ! npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error \
    "$package@$version" >&2; then
    rm -rf "$tmp"
    fail "npm install $package@$version failed (is the npm registry reachable?)"
  fi
  # Another run may have finished first: keep its copy.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  echo "installed $package@$version into $dir in $((SECONDS - started)) s"
}

# @redocly/cli 2.x needs Node.js >= 20.19 (Debian 12's nodejs is 18).
node_ok() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number);
           process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
node_ok || fail "Node.js >= 20.19 is needed for $package@$version (found: $(node --version 2>/dev/null || echo none))"

installed || install
installed || fail "$package@$version is not usable in $dir: remove that folder and run again"

# No telemetry or update checks: the lint must not depend on the network.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
cd "$src"
out=$("$bin" lint --config docs/redocly.yaml docs/openapi.yaml 2>&1) ||
  fail "redocly lint found errors:"$'\n'"$out"
echo "$out"
if grep -Eq 'You have [0-9]+ warnings?' <<<"$out"; then
  fail "redocly lint found warnings (fix them, or turn the rule off in docs/redocly.yaml with a reason)"
fi

# clients/go/go_env.sh — sourced by test_http.sh and test_shm.sh: the Go
# environment of every run, so that no run downloads a module or writes
# to $HOME. Debian's Go (/usr/bin/go, 1.19; GO overrides); GOCACHE and
# GOPATH under GO_STATE_DIR (CTest: the build tree), else a temporary
# directory removed at exit.
GO=${GO:-/usr/bin/go}
if [ -z "${GO_STATE_DIR:-}" ]; then
  GO_STATE_DIR=$(mktemp -d)
  trap 'chmod -R u+w "$GO_STATE_DIR"; rm -rf "$GO_STATE_DIR"' EXIT
fi
export GOPROXY=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
export GOCACHE=$GO_STATE_DIR/cache GOPATH=$GO_STATE_DIR/path
: "${FORGE_BIN_DIR:?set FORGE_BIN_DIR to the directory holding forge-broker and forge-frontend}"
cd "$(dirname "${BASH_SOURCE[0]}")"

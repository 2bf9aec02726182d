# bench/lib/servers.sh — start and stop the servers bench/http.sh compares.
# Sourced, not run. Needs: BIN (forge binaries), WORK (private temp dir).
#
# Every process started here is recorded in STARTED (pids); stop_all stops
# exactly those, children first, and is what the EXIT trap runs. Nothing is
# stopped by name.

STARTED=()

# free_port: a TCP port no socket uses, below the ephemeral range (wrk's
# thousands of client sockets take ports from that range while we run).
free_port() {
  local p low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    if [ -z "$(ss -Htan "( sport = :$p )")" ]; then
      echo "$p"
      return 0
    fi
  done
  echo "bench: no free port found in 10000..$((low - 1))" >&2
  return 1
}

# wait_http PORT PATH SECONDS [PAUSE]: waits for a 200 from PATH, trying
# every PAUSE seconds (default 0.05); 1 on timeout.
wait_http() {
  local deadline=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2")" = 200 ] &&
      return 0
    sleep "${4:-0.05}"
  done
  echo "bench: no 200 from 127.0.0.1:$1$2 within $3 s" >&2
  return 1
}

# start_forge NAME RANGE_SIZE POOL_CAPACITY WORKERS [FRONTEND]: broker +
# frontend (default $BIN/forge-frontend) with a
# store, segment and port of their own. Sets FORGE_<NAME>_{PORT,BROKER,MASTER}
# and FORGE_<NAME>_T0 (date +%s%N just before the broker was started).
start_forge() {
  local name=$1 dir="$WORK/$1" port
  port=$(free_port)
  mkdir -p "$dir"
  eval "FORGE_${name}_T0=$(date +%s%N)"
  # The working directory is private, so no config.yml or .env is picked up.
  (cd "$dir" && SHM_NAME="bench-$$-$name" DB_URL="sqlite:$dir/forge.db" \
    RANGE_SIZE=$2 POOL_CAPACITY=$3 exec "$BIN/forge-broker" \
    >"$dir/broker.log" 2>&1) &
  STARTED+=($!)
  eval "FORGE_${name}_BROKER=$!"
  # KEEP_ALIVE_MAX like nginx's keepalive_requests below: no reconnects.
  (cd "$dir" && SHM_NAME="bench-$$-$name" HOST=127.0.0.1 PORT=$port \
    WORKERS=$4 KEEP_ALIVE_MAX=1000000 exec "${5:-$BIN/forge-frontend}" \
    >"$dir/frontend.log" 2>&1) &
  STARTED+=($!)
  eval "FORGE_${name}_MASTER=$! FORGE_${name}_PORT=$port"
}

# forge_pids NAME: broker, master and current workers.
forge_pids() {
  local b m
  eval "b=\$FORGE_${1}_BROKER m=\$FORGE_${1}_MASTER"
  echo "$b $m $(pgrep -P "$m" | tr '\n' ' ')"
}

# start_nginx WORKERS: nginx answering every path with a 7-character body,
# and /get-keys?count=N with a static file of N 8-byte lines (the size of
# mini-forge's answer). Sets NGINX_PORT, NGINX_MASTER.
start_nginx() {
  local dir="$WORK/nginx" n
  NGINX_PORT=$(free_port)
  mkdir -p "$dir/www"
  # nginx's workers drop root privileges; they must reach the files.
  chmod 755 "$WORK" "$dir" "$dir/www"
  for n in $BATCHES; do
    printf 'k3Xb9Qz\n%.0s' $(seq "$n") >"$dir/www/keys$n.txt"
  done
  chmod 644 "$dir"/www/*
  cat >"$dir/nginx.conf" <<EOF
worker_processes $1;
worker_rlimit_nofile 16384;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    root $dir/www;
    default_type text/plain;
    location = /get-keys { try_files /keys\$arg_count.txt =404; }
    location / { return 200 "k3Xb9Qz"; }
  }
}
EOF
  nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
    >"$dir/stdout.log" 2>&1 &
  STARTED+=($!)
  NGINX_MASTER=$!
}

nginx_pids() { echo "$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')"; }

# running PID: true while PID exists and is not a zombie.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# stop_pid PID: TERM, then KILL after 5 s; reaps it and forgets it. Only
# that pid, which must be a child of this shell.
stop_pid() {
  if kill -TERM "$1" 2>/dev/null; then
    for _ in $(seq 50); do
      running "$1" || break
      sleep 0.1
    done
    if running "$1"; then kill -KILL "$1" 2>/dev/null || true; fi
  fi
  wait "$1" 2>/dev/null || true
  forget "$1"
}

# forget PID: drop a pid that has been reaped from STARTED.
forget() {
  local p
  local -a keep=()
  for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

# stop_all: everything in STARTED, newest first (frontends before brokers).
stop_all() {
  while [ ${#STARTED[@]} -gt 0 ]; do stop_pid "${STARTED[-1]}"; done
}

# setup_bench TOOL...: builds Release into build-release (unless
# SKIP_BUILD), requires each TOOL on PATH, makes WORK (a fresh directory)
# and the traps: on exit every started process is stopped and the bench
# segments removed; WORK is removed on success and kept (and named) on
# failure.
setup_bench() {
  local tool
  if [ -z "${SKIP_BUILD:-}" ]; then
    scripts/install-deps.sh bench
    echo "bench: building Release into build-release" >&2
    BUILD_DIR=build-release BUILD_TYPE=Release scripts/build.sh \
      -DFORGE_BUILD_TESTS=OFF >/dev/null
  fi
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "bench: $tool not found; run scripts/install-deps.sh bench" >&2
      exit 1
    }
  done
  WORK=$(mktemp -d /tmp/forge-bench.XXXXXX)
  trap 'rc=$?; stop_all; rm -f /dev/shm/mini-forge.bench-$$-*
    if [ $rc = 0 ]; then rm -rf "$WORK"; else echo "bench: logs in $WORK" >&2; fi' EXIT
  trap 'exit 130' INT TERM
}

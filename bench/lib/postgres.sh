# bench/lib/postgres.sh — a throw-away PostgreSQL server for the benches
# that share one store between brokers (bench/scaleout.sh,
# bench/reservations.sh). Sourced, not run, after bench/lib/servers.sh.
# Needs: WORK (private temp dir), PG_BINDIR (the server's programs).
#
# The cluster lives in $WORK/pg (initdb as the `postgres` user when run as
# root), listens on 127.0.0.1 at a free port with its default durability
# (fsync on, synchronous_commit on); its pid goes to STARTED, so stop_all
# stops it with the rest.

# "${AS_PG[@]}" CMD...: runs CMD as the postgres user when we are root.
# setpriv execs in place, so $! of a background command is CMD's own pid.
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

# start_pg DB...: a fresh cluster with those databases; sets PG_PORT.
start_pg() {
  local dir=$WORK/pg
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chmod 711 "$WORK"  # the server user must reach its directory
    chown postgres: "$dir"
  fi
  "${AS_PG[@]}" "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync --no-instructions >"$WORK/initdb.log" 2>&1 || {
    cat "$WORK/initdb.log" >&2
    return 1
  }
  local attempt pid
  for attempt in 1 2 3; do  # another program may take the port meanwhile
    PG_PORT=$(free_port)
    "${AS_PG[@]}" "$PG_BINDIR/postgres" -D "$dir/data" -p "$PG_PORT" -k "$dir" \
      -c listen_addresses=127.0.0.1 -c dynamic_shared_memory_type=mmap \
      >"$WORK/postgres.log" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    for _ in $(seq 300); do
      running "$pid" || break
      "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
      sleep 0.1
    done
    running "$pid" && break
    wait "$pid" || true
    forget "$pid"
    echo "bench: PostgreSQL did not start (attempt $attempt)" >&2
  done
  local db
  for db in "$@"; do
    "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db" || {
      cat "$WORK/postgres.log" >&2
      return 1
    }
  done
}

# pg_url DB: the URL of database DB on the server start_pg started.
pg_url() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"; }

# pg_version: "15.x".
pg_version() { "$PG_BINDIR/postgres" --version | awk '{print $3}'; }

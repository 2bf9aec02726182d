# bench/lib/measure.sh — one wrk run with everything bench/http.sh reports.
# Sourced, not run. Needs: WORK, THREADS, LUA (wrk_report.lua).

HZ=$(getconf CLK_TCK)

# cpu_ticks PID...: utime+stime of those processes (all their threads), in
# clock ticks. A pid that is gone counts 0.
cpu_ticks() {
  local pid stat total=0 f
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # Fields after the command name: state is 1st, utime 12th, stime 13th.
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# machine_ticks: "BUSY STEAL" over all CPUs from /proc/stat, in clock ticks
# (busy: user, nice, system, irq, softirq; steal: taken by the hypervisor).
machine_ticks() {
  local _cpu user nice system idle iowait irq softirq steal
  read -r _cpu user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + system + irq + softirq)) $steal"
}

# conn_census PORT: "OPEN STARVED" over the load generator's sockets to
# PORT. Starved: connected (or still connecting) and not one response byte
# received. wrk only counts completed requests, so a connection the server
# never answers is invisible in its summary; the kernel's per-socket
# counters (tcp_info bytes_received) show it.
conn_census() {
  ss -Htni state established state syn-sent "( dport = :$1 )" | awk '
    /^[^ \t]/ { open++; next }
    $0 !~ /bytes_received:[1-9]/ { starved++ }
    END { print open + 0, starved + 0 }'
}

# run_wrk URL CONNS SECONDS PIDS...: prints one line of key=value pairs:
# rps p50 p99 p999 (ms) errors non2xx open starved cpu_server cpu_wrk
# cpu_first (the first of PIDS alone: mini-forge's broker) cpu_other (every
# other process on the machine) steal (percent of one core over the run)
# requests seconds.
run_wrk() {
  local url=$1 conns=$2 secs=$3 port job t0 t1 before after census
  local busy0 steal0 busy1 steal1 first0 first1
  shift 3
  port=${url#http://127.0.0.1:}
  port=${port%%/*}
  before=$(cpu_ticks "$@")
  first0=$(cpu_ticks "$1")
  read -r busy0 steal0 <<<"$(machine_ticks)"
  t0=$(date +%s%N)
  # The subshell waits for wrk, so its cutime/cstime become wrk's CPU.
  (
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout 2s -s "$LUA" "$url" \
      >"$WORK/wrk.out" 2>&1 || true
    # read, not $(cat ...): $BASHPID must be this subshell, not a new one.
    read -r stat <"/proc/$BASHPID/stat"
    read -r -a f <<<"${stat##*) }"
    echo $((f[13] + f[14])) >"$WORK/wrk.cpu"
  ) &
  job=$!
  STARTED+=("$job")
  # Late in the run: every connection has had most of the run to be served.
  sleep "$(awk -v s="$secs" 'BEGIN { print s * 0.8 }')"
  census=$(conn_census "$port")
  wait "$job" || true
  unset 'STARTED[-1]'
  t1=$(date +%s%N)
  after=$(cpu_ticks "$@")
  first1=$(cpu_ticks "$1")
  read -r busy1 steal1 <<<"$(machine_ticks)"
  grep '^WRK ' "$WORK/wrk.out" >/dev/null || {
    echo "bench: wrk failed on $url:" >&2
    cat "$WORK/wrk.out" >&2
    return 1
  }
  sed -n 's/^WRK //p' "$WORK/wrk.out" | awk -v census="$census" \
    -v srv=$((after - before)) -v wrk="$(cat "$WORK/wrk.cpu")" \
    -v wall_ns=$((t1 - t0)) -v hz="$HZ" -v busy=$((busy1 - busy0)) \
    -v steal=$((steal1 - steal0)) -v first=$((first1 - first0)) '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      split(census, c, " ")
      secs = v["duration_us"] / 1e6; wall = wall_ns / 1e9
      printf "rps=%.0f p50=%.3f p99=%.3f p999=%.3f ", v["requests"] / secs,
        v["p50_us"] / 1e3, v["p99_us"] / 1e3, v["p999_us"] / 1e3
      printf "errors=%d non2xx=%d open=%d starved=%d ",
        v["connect"] + v["read"] + v["write"] + v["timeout"], v["status"],
        c[1], c[2]
      other = busy - srv - wrk
      printf "cpu_server=%.0f cpu_first=%.0f cpu_wrk=%.0f cpu_other=%.0f ",
        100 * srv / hz / wall, 100 * first / hz / wall, 100 * wrk / hz / wall,
        100 * (other > 0 ? other : 0) / hz / wall
      printf "steal=%.0f ", 100 * steal / hz / wall
      printf "requests=%d seconds=%.3f\n", v["requests"], secs
    }'
}

# field LINE KEY: the value of KEY in a run_wrk line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# median: of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# SUPPLY_BENCH: the forge_supply_bench case bench/http.sh reports: a
# 65536-slot ring, RANGE_SIZE auto, ENCODE_THREADS auto (its defaults).
SUPPLY_CASE='BM_BrokerSupply/65536/0/0/'

# broker_supply RUNS: the broker's supply in keys/s (one Broker refilling
# its ring from empty to full, forge_supply_bench), the median of RUNS runs
# of 1 s; "nan" when it could not be measured.
broker_supply() {
  # A failed bench leaves "nan" (not measured), not a failed run.
  { "$BIN/forge_supply_bench" --benchmark_filter="^$SUPPLY_CASE" \
    --benchmark_repetitions="$1" --benchmark_min_time=1 \
    --benchmark_format=json 2>/dev/null || true; } | supply_of_json
}

# supply_of_json: the median items_per_second of the run entries of a
# Google Benchmark JSON report on stdin (aggregates left out).
supply_of_json() {
  awk '/"run_type": "aggregate"/ { skip = 1 } /"run_type": "iteration"/ { skip = 0 }
    /"items_per_second":/ && !skip { v = $2; sub(/,$/, "", v); print v + 0 }' |
    median
}

# metric PORT NAME: a counter from mini-forge's /metrics, summed over its
# labels (e.g. one sample per worker slot); empty when it is missing.
metric() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '
    /^#/ { next }
    { name = $1; sub(/\{.*/, "", name) }
    name == n { sum += $2; seen = 1 }
    END { if (seen) printf "%.0f\n", sum }'
}

# load_note: "load 0.42", marked when above the core count (not a result).
load_note() {
  awk -v n="$(nproc)" '{ printf "load %s%s", $1, ($1 > n ? " (above the core count: not a result)" : "") }' /proc/loadavg
}

# quiet: waits up to 60 s for the 1-minute load average to fall below the
# core count (starting servers raises it), then prints load_note.
quiet() {
  for _ in $(seq 60); do
    awk -v n="$(nproc)" '{ exit !($1 < n) }' /proc/loadavg && break
    sleep 1
  done
  load_note
}

# rps URL CONNS: requests per second of one wrk run (THREADS threads,
# DURATION seconds; bench/wrk_report.lua's line: requests over duration).
rps() {
  wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --timeout 2s -s "$LUA" "$1" 2>/dev/null |
    awk '/^WRK / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                   printf "%d\n", v["requests"] / (v["duration_us"] / 1e6) }'
}

# ab_rps URL_A URL_B: ROUNDS interleaved rps runs (A B, then B A, ...) at
# CONNS connections; sets A_RPS and B_RPS (arrays, one entry per round).
ab_rps() {
  local round
  A_RPS=() B_RPS=()
  for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
      A_RPS+=("$(rps "$1" "$CONNS")")
      B_RPS+=("$(rps "$2" "$CONNS")")
    else
      B_RPS+=("$(rps "$2" "$CONNS")")
      A_RPS+=("$(rps "$1" "$CONNS")")
    fi
  done
}

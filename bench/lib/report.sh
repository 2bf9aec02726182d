# bench/lib/report.sh — turns bench/http.sh's rows into the table and plot.
# Sourced, not run. Reads ROWS (section, key, round, server, run_wrk line),
# REFILL_RANGES, FIRST_KEY_MS, IDLE_PCT, SUPPLY_KPS (broker_supply,
# bench/lib/measure.sh), LOAD_BEFORE, LOAD_AFTER and
# LOAD_VERDICT (bench/lib/load_guard.sh) and the settings; writes
# $RESULTS/http-latest.txt and $RESULTS/http-latest.png.

# rows SECTION: that section's rows as "key round server k=v ...".
rows() { awk -F '\t' -v s="$1" '$1 == s { print $2, $3, $4, $5 }' "$ROWS"; }

# AWK_KV: awk code that loads the k=v fields of a rows() line into v[].
AWK_KV='function load(  i, kv) { delete v
  for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }'

# runs_table SECTION A B KEYNAME: every run, with the A/B req/s ratio of
# the same round on A's line.
runs_table() {
  rows "$1" | awk -v a="$2" -v b="$3" -v keyname="$4" "$AWK_KV"'
    { load(); id = $1 " " $2; rps[id, $3] = v["rps"]
      line[NR] = sprintf("%10s %3s %-10s %9.0f %8.3f %8.3f %8.3f %7d %7d %8s %15s",
        $1, $2, $3, v["rps"], v["p50"], v["p99"], v["p999"], v["errors"],
        v["non2xx"], v["starved"] "/" v["open"],
        v["cpu_server"] "/" v["cpu_wrk"] "/" v["cpu_other"])
      who[NR] = $3; ids[NR] = id }
    END {
      printf "%10s %3s %-10s %9s %8s %8s %8s %7s %7s %8s %15s %6s\n", keyname,
        "rnd", "server", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors",
        "non-2xx", "starved", "cpu srv/wrk/oth", "ratio"
      for (i = 1; i <= NR; i++) {
        r = ""
        if (who[i] == a && rps[ids[i], b] > 0)
          r = sprintf("%6.2f", rps[ids[i], a] / rps[ids[i], b])
        print line[i], r
      }
    }'
}

# med SECTION KEY SERVER FIELD: median over the rounds.
med() {
  rows "$1" | awk -v k="$2" -v s="$3" -v f="$4" "$AWK_KV"'
    $1 == k && $3 == s { load(); print v[f] }' | median
}

# ratio_med SECTION KEY A B [cpu]: median over rounds of A req/s / B req/s;
# with "cpu", of A's requests per server CPU-second / B's (efficiency).
ratio_med() {
  rows "$1" | awk -v k="$2" -v a="$3" -v b="$4" -v per_cpu="${5:-}" "$AWK_KV"'
    $1 == k { load(); r[$2, $3] = v["rps"]
      if (per_cpu != "") r[$2, $3] = v["cpu_server"] > 0 ? v["rps"] / v["cpu_server"] : 0
      rounds[$2] }
    END { for (n in rounds) if (r[n, b] > 0) print r[n, a] / r[n, b] }' |
    median
}

# worst SECTION KEY SERVER FIELD: the largest value over the rounds.
worst() {
  rows "$1" | awk -v k="$2" -v s="$3" -v f="$4" "$AWK_KV"'
    $1 == k && $3 == s { load(); if (v[f] > m) m = v[f] } END { print m + 0 }'
}

# best SECTION KEY SERVER FIELD: the smallest value over the rounds.
best() {
  rows "$1" | awk -v k="$2" -v s="$3" -v f="$4" "$AWK_KV"'
    $1 == k && $3 == s { load(); if (m == "" || v[f] < m) m = v[f] }
    END { print m + 0 }'
}

# sum_of SECTION KEY SERVER FIELD: the total over the rounds.
sum_of() {
  rows "$1" | awk -v k="$2" -v s="$3" -v f="$4" "$AWK_KV"'
    $1 == k && $3 == s { load(); t += v[f] } END { print t + 0 }'
}

summary_table() {
  local c
  printf '%6s %12s %12s %6s %8s %17s %17s %8s %7s %10s %10s\n' conns \
    "forge req/s" "nginx req/s" ratio "per-cpu" "p99 ms f/n" \
    "p99.9 ms f/n" starved errors "forge cpu" "nginx cpu"
  for c in $CONNS; do
    printf '%6s %12.0f %12.0f %6.2f %8.2f %8.2f/%-8.2f %8.2f/%-8.2f %8s %7s %10s %10s\n' "$c" \
      "$(med getkey "$c" mini-forge rps)" "$(med getkey "$c" nginx rps)" \
      "$(ratio_med getkey "$c" mini-forge nginx)" \
      "$(ratio_med getkey "$c" mini-forge nginx cpu)" \
      "$(med getkey "$c" mini-forge p99)" "$(med getkey "$c" nginx p99)" \
      "$(med getkey "$c" mini-forge p999)" "$(med getkey "$c" nginx p999)" \
      "$(worst getkey "$c" mini-forge starved)" \
      "$(worst getkey "$c" mini-forge errors)" \
      "$(med getkey "$c" mini-forge cpu_server)/$(med getkey "$c" mini-forge cpu_wrk)" \
      "$(med getkey "$c" nginx cpu_server)/$(med getkey "$c" nginx cpu_wrk)"
  done
  echo "ratio: mini-forge/nginx req/s; per-cpu: the same per server CPU-second" \
    "(less sensitive to what else runs on the machine); cpu: server/wrk in %" \
    "of one core; starved, errors: worst round; the rest: median of rounds"
}

# batch_kps N: mini-forge's keys/s of /get-keys?count=N, median of rounds,
# from its served counter; "nan" when not measured.
batch_kps() {
  rows batch | awk -v k="$1" "$AWK_KV"'
    $1 == k && $3 == "mini-forge" { load()
      if ("keys" in v) print v["keys"] / v["seconds"] }' |
    median
}

batch_table() {
  local n
  printf '%7s %15s %13s %17s %6s %8s %8s %11s\n' count "forge keys/s" \
    "forge req/s" "nginx same-size" ratio "p99 ms" "503s" "broker cpu"
  for n in $BATCHES; do
    printf '%7s %15.0f %13.0f %17.0f %6.2f %8.2f %8s %10s%%\n' "$n" \
      "$(batch_kps "$n")" \
      "$(med batch "$n" mini-forge rps)" "$(med batch "$n" nginx rps)" \
      "$(ratio_med batch "$n" mini-forge nginx)" "$(med batch "$n" mini-forge p99)" \
      "$(sum_of batch "$n" mini-forge non2xx)" "$(med batch "$n" mini-forge cpu_first)"
  done
  echo "keys/s: mini-forge's served counter over the run (short answers count" \
    "what they carried); 503s: total over the rounds; broker cpu: % of one core"
}

# verdict TEXT OK: one line of the targets list.
verdict() {
  local v='NOT met'
  [ "$2" = 1 ] && v=met
  [ "$2" = n/a ] && v='not measured'
  printf '  %-66s %s\n' "$1" "$v"
}

# le A B: 1 when A <= B (decimals); n/a when either was not measured.
le() {
  case "$1 $2" in *nan* | " "* | *" ") echo n/a && return ;; esac
  awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? 1 : 0 }'
}

# SUPPLY_DRAIN: the batch whose HTTP drain the broker's supply must outrun.
SUPPLY_DRAIN=10000

# millions X: X / 10^6 with one decimal ("nan" stays).
millions() { awk -v x="$1" 'BEGIN { if (x == "nan" || x == "") print "nan"; else printf "%.1f", x / 1e6 }'; }

# supply_table: the broker's supply next to the HTTP drain (issue 18 §2).
supply_table() {
  local drain
  drain=$(batch_kps "$SUPPLY_DRAIN")
  printf '  %-64s %8s M keys/s\n' \
    "broker supply (forge_supply_bench ${SUPPLY_CASE%/})" \
    "$(millions "$SUPPLY_KPS")" \
    "HTTP drain (/get-keys?count=$SUPPLY_DRAIN, 64 conns)" "$(millions "$drain")"
  echo "supply: one broker (ENCODE_THREADS auto) refilling its ring from empty" \
    "to full again and again (drained untimed in between), median of $ROUNDS runs" \
    "of 1 s, servers idle; drain: mini-forge's served counter, median of rounds"
}

# supply_verdicts: the target lines of issue 18 §2's supply.
supply_verdicts() {
  local drain n5
  drain=$(batch_kps "$SUPPLY_DRAIN")
  n5=$(sum_of batch "$SUPPLY_DRAIN" mini-forge non2xx)
  verdict "supply >= 2x drain of count=$SUPPLY_DRAIN (got $(millions \
    "$SUPPLY_KPS") M vs $(millions "$drain") M keys/s)" \
    "$(le "$(awk -v d="$drain" 'BEGIN { print d == "nan" ? d : 2 * d }')" \
      "$SUPPLY_KPS")"
  verdict "count=$SUPPLY_DRAIN: no 503 (got $n5)" "$(le "$n5" 0)"
}

targets() {
  local r64 p64 s64 s1k e1k p1k kps fk
  r64=$(ratio_med getkey 64 mini-forge nginx)
  p64=$(med getkey 64 mini-forge p99)
  s64=$(worst getkey 64 mini-forge starved)
  s1k=$(worst getkey 1000 mini-forge starved)
  e1k=$(($(worst getkey 1000 mini-forge errors) + $(worst getkey 1000 mini-forge non2xx)))
  p1k=$(med getkey 1000 mini-forge p99)
  kps=$(batch_kps 1000)
  fk=$(printf '%s\n' "${FIRST_KEY_MS[@]}" | median)
  echo "Targets (issue 6; medians over rounds, worst case for errors/starved)"
  verdict "64 conns: >= 0.5x nginx req/s (got ${r64}x)" "$(le 0.5 "$r64")"
  verdict "64 conns: p99 <= 5 ms (got $p64 ms; best round $(best getkey 64 \
    mini-forge p99))" "$(le "$p64" 5)"
  verdict "64 conns: zero starved connections (got $s64)" "$(le "$s64" 0)"
  verdict "1000 conns: zero errors (got $e1k), zero starved (got $s1k)" \
    "$(le $((e1k + s1k)) 0)"
  verdict "1000 conns: p99 <= 50 ms (got $p1k ms)" "$(le "$p1k" 50)"
  verdict "/get-keys?count=1000: >= 10 M keys/s (got $(printf '%.1f' \
    "$(awk -v k="$kps" 'BEGIN { print k / 1e6 }')") M)" "$(le 10000000 "$kps")"
  verdict "first key <= 100 ms after start (median $fk ms)" "$(le "$fk" 100)"
  verdict "idle: < 0.5% of a core ($IDLE_PCT%)" "$(le "$IDLE_PCT" 0.4999)"
  local config rp sp n5
  for config in ${REFILL:-100:4096 1000:4096 1000:65536}; do
    rp=$(med refill "$config" refill p999)
    sp=$(med refill "$config" steady p999)
    n5=$(sum_of refill "$config" refill non2xx)
    # "Within noise": at most twice steady state, or 2 ms more, and no 503.
    verdict "refill $config: p99.9 $rp ms vs steady $sp ms, $n5 x 503" \
      "$(awk -v r="$rp" -v s="$sp" -v n="$n5" \
        'BEGIN { print (n == 0 && (r <= 2 * s || r <= s + 2)) ? 1 : 0 }')"
  done
}

# Issue 18: at every connection count, req/s and req per server CPU-second
# at least nginx's, p99 no worse; pipelining at least nginx's.
targets_18() {
  local c r pc pf pn pr
  echo "Targets (issue 18; medians over rounds)"
  for c in $CONNS; do
    r=$(ratio_med getkey "$c" mini-forge nginx)
    pc=$(ratio_med getkey "$c" mini-forge nginx cpu)
    pf=$(med getkey "$c" mini-forge p99)
    pn=$(med getkey "$c" nginx p99)
    verdict "$c conns: >= 1.0x nginx req/s (got ${r}x)" "$(le 1 "$r")"
    verdict "$c conns: >= 1.0x nginx req per CPU-s (got ${pc}x)" "$(le 1 "$pc")"
    verdict "$c conns: p99 <= nginx's (got $pf ms vs $pn ms)" "$(le "$pf" "$pn")"
  done
  pr=$(ratio_med pipeline "$PIPELINE_DEPTH" mini-forge nginx)
  verdict "pipelined (depth $PIPELINE_DEPTH, 64 conns): >= 1.0x nginx (got ${pr}x)" \
    "$(le 1 "$pr")"
  supply_verdicts
}

report_body() {
  echo "mini-forge HTTP benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: $COMMAND"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo |
    head -1)"
  load_line "$LOAD_BEFORE" "$LOAD_AFTER" "$LOAD_VERDICT"
  echo "tools: $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 |
    cut -d' ' -f1-2), wrk -t$THREADS --timeout 2s, loopback 127.0.0.1"
  echo "mini-forge: WORKERS=$WORKERS RANGE_SIZE auto (the default) POOL_CAPACITY=1048576" \
    "KEEP_ALIVE_MAX=1000000; nginx: worker_processes $WORKERS," \
    "keepalive_requests 1000000, access_log off, return 200 \"k3Xb9Qz\""
  echo "rounds: $ROUNDS x ${DURATION} s per server and setting, interleaved" \
    "(A B, B A, ...), 1 s warm-up each"
  echo "starved = load-generator sockets with zero response bytes at 80% of" \
    "the run (ss tcp_info)"
  echo "cpu srv/wrk/oth = % of one core used by the server's processes, by" \
    "wrk, and by every other process on the (shared) machine during the run"
  echo
  echo "== GET /get-key vs nginx: medians over rounds =="
  summary_table
  echo
  echo "== Pipelined GET /get-key, $PIPELINE_DEPTH per write, 64 connections =="
  runs_table pipeline mini-forge nginx depth
  echo
  echo "== /get-keys?count=N at 64 connections (nginx: a static file of the same size) =="
  batch_table
  echo
  echo "== The broker's supply vs the HTTP drain =="
  supply_table
  echo
  echo "== Refill at 64 connections: RANGE_SIZE:POOL_CAPACITY that make the" \
    "broker reserve all the time vs steady state (auto:1048576) =="
  echo "ranges reserved during the refill runs (RANGE_SIZE:POOL_CAPACITY:ranges):" \
    "${REFILL_RANGES[*]}, in $((ROUNDS * DURATION)) s of load each"
  runs_table refill refill steady config
  echo
  echo "== Start to first key (fresh store, broker and frontend started together," \
    "WORKERS=$IDLE_WORKERS) =="
  echo "  ${FIRST_KEY_MS[*]} ms"
  echo "== Idle: broker + master + $IDLE_WORKERS workers, 10 s without traffic =="
  echo "  $IDLE_PCT % of one core"
  echo
  targets
  targets_18
  echo
  if [ -n "${BASELINE_FRONTEND:-}" ]; then
    echo "== This build (after) vs $BASELINE_FRONTEND (before), GET /get-key =="
    runs_table baseline after before conns
    for c in ${BASELINE_CONNS:-64 256}; do
      echo "  $c conns, median after/before: $(ratio_med baseline "$c" after \
        before) x req/s, $(ratio_med baseline "$c" after before cpu) x req" \
        "per server CPU-second"
    done
    echo
  fi
  echo "== Every run: GET /get-key =="
  runs_table getkey mini-forge nginx conns
  echo
  echo "== Every run: /get-keys?count=N =="
  runs_table batch mini-forge nginx count
}

plot() {
  local data=$WORK/plot.dat c
  for c in $CONNS; do
    echo "$c $(med getkey "$c" mini-forge rps) $(med getkey "$c" nginx rps)" \
      "$(med getkey "$c" mini-forge p99) $(med getkey "$c" nginx p99)"
  done >"$data"
  gnuplot -e "data='$data'; out='$RESULTS/http-latest.png'" \
    -e "stamp='$(date -u '+%Y-%m-%d') · WORKERS=$WORKERS · $(nproc) cores, $(load_stamp "$LOAD_BEFORE" "$LOAD_VERDICT") · medians of $ROUNDS rounds'" \
    "$ROOT/bench/http_plot.gp"
}

write_report() {
  mkdir -p "$RESULTS"
  report_body | tee "$RESULTS/http-latest.txt"
  plot
  echo
  echo "wrote $RESULTS/http-latest.txt and $RESULTS/http-latest.png"
}

# bench/lib/load_guard.sh — the benchmark tells the truth about the machine
# (issue 18 §4): the 1-minute load average before and after a run, and the
# rule that a run begun on a busy machine does not become the current
# result. Sourced, not run (bench/http.sh; tests/bench/load_guard_test.sh
# calls the functions alone).
#
#   LOADAVG=/proc/loadavg   where the load average is read (a test points it
#                           at a file)
#   LOAD_WAIT=60            seconds bench/http.sh waits for the load to fall
#                           to the core count before it decides
#
# Busy means a 1-minute load average above the number of cores (nproc): the
# figures would measure the other tenants as much as mini-forge.

LOADAVG=${LOADAVG:-/proc/loadavg}

# load1: the 1-minute load average now.
load1() { cut -d' ' -f1 "$LOADAVG"; }

# load_busy LOAD CORES: true (0) when LOAD is above CORES.
load_busy() { awk -v l="$1" -v n="$2" 'BEGIN { exit !(l + 0 > n + 0) }'; }

# load_verdict LOAD CORES ALLOW_BUSY: "quiet", "busy" (allowed: the figures
# are written, marked busy) or "refuse" (busy and not allowed).
load_verdict() {
  if ! load_busy "$1" "$2"; then
    echo quiet
  elif [ "$3" = 1 ]; then
    echo busy
  else
    echo refuse
  fi
}

# load_refusal SCRIPT LOAD CORES: the one line that says why nothing runs.
load_refusal() {
  echo "$1: load average $2 is above the $3 cores of this machine, so" \
    "figures taken now would not be a result; nothing was measured or" \
    "written. Wait for a quiet machine, or pass --allow-busy to measure" \
    "anyway (the report is then marked busy)"
}

# wait_for_quiet SECONDS CORES: polls the load once a second until it is at
# most CORES or SECONDS have passed (starting servers and building raise it).
wait_for_quiet() {
  local i
  for ((i = 0; i < $1; i++)); do
    load_busy "$(load1)" "$2" || return 0
    sleep 1
  done
}

# load_gate SCRIPT ALLOW_BUSY: sets LOAD_VERDICT for the load now; exits 1
# with load_refusal's line when the verdict is "refuse".
load_gate() {
  local load cores
  load=$(load1)
  cores=$(nproc)
  LOAD_VERDICT=$(load_verdict "$load" "$cores" "$2")
  if [ "$LOAD_VERDICT" = refuse ]; then
    load_refusal "$1" "$load" "$cores" >&2
    exit 1
  fi
}

# load_line BEFORE AFTER VERDICT: the report's line about the machine's load.
load_line() {
  local line="load average (1 min) before the run: $1, after: $2"
  if [ "$3" = busy ]; then
    line+=" — BUSY: above the $(nproc) cores before the run (--allow-busy);"
    line+=" these figures are not a result"
  fi
  echo "$line"
}

# load_stamp BEFORE VERDICT: "load 1.20", or "load 3.50 (BUSY)" (the plot).
load_stamp() {
  if [ "$2" = busy ]; then echo "load $1 (BUSY)"; else echo "load $1"; fi
}

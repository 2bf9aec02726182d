#!/usr/bin/env bash
# deploy/container-test.sh — builds deploy/docker/Dockerfile with podman and
# runs the image for real (CTest deploy.container):
# Everything lives in a podman store of its own (FORGE_CONTAINER_STORE,
# default /var/cache/mini-forge-container-test; run state under
# /run/mini-forge-container-test/), locked for one run at a time, so the
# machine's own podman storage is never touched and whatever a run leaves
# there (a build cut short leaves its working containers) is this script's
# to remove.
#   1. a Debian 12 base image made here, without a registry: debootstrap
#      (minbase, bookworm, from the mirror apt is configured with), then
#      `podman import`, tagged localhost/debian:12 and localhost/debian:12-slim
#      so the Dockerfile's `FROM debian:12` / `FROM debian:12-slim` resolve to
#      it (podman looks a short name up as localhost/NAME first; --pull=never
#      keeps every registry out). Kept between runs: debootstrap runs again
#      only when the base recipe changed (label mini-forge.base-recipe) or
#      with --rebuild-base.
#   2. `podman build` of the Dockerfile (timed; the compile dominates).
#   3. broker + frontend as two containers joining a holder container's IPC
#      and PID namespaces (as compose.yml does), SQLite store in a temp dir:
#      keys come out; `podman kill` the broker: the ring drains to 503; start
#      the broker again: serving resumes; no key is served twice.
# Usage: deploy/container-test.sh [--rebuild-base]
# Needs root (debootstrap, rootful podman), podman with runc, debootstrap,
# curl (scripts/install-deps.sh test). Fails, never skips: anything missing
# prints one line "container-test: FAIL: <reason>" and exits 1. Bounded: every
# step gets what is left of FORGE_CONTAINER_TEST_BUDGET seconds (default
# 600); the containers it started are removed on every exit (by id).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
budget=${FORGE_CONTAINER_TEST_BUDGET:-600}
base=localhost/debian:12
base_slim=localhost/debian:12-slim
# Bump when the way the base is made changes: cached bases are then remade.
base_recipe=1
image=localhost/mini-forge:container-test
image_build=localhost/mini-forge:container-test-build
rebuild_base=false
store=${FORGE_CONTAINER_STORE:-/var/cache/mini-forge-container-test}
# Run state (tmpfs) of this store; one folder per store.
state=/run/mini-forge-container-test/$(printf %s "$store" | md5sum | cut -c1-12)
pm=(podman --root "$store/storage" --runroot "$state/run" --tmpdir "$state/tmp"
  --runtime runc --cgroup-manager=cgroupfs)

fail() { echo "container-test: FAIL: $*" >&2; exit 1; }
say() { echo "container-test: $*" >&2; }

for arg in "$@"; do
  case $arg in
    --rebuild-base) rebuild_base=true ;;
    *) echo "container-test: unknown argument '$arg'; allowed: --rebuild-base" >&2
       exit 2 ;;
  esac
done
[[ $budget =~ ^[1-9][0-9]*$ ]] ||
  { echo "container-test: FORGE_CONTAINER_TEST_BUDGET='$budget'; allowed: seconds, a positive integer" >&2; exit 2; }

# ------------------------------------------------------------ preconditions
[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap and rootful podman need it); uid is $(id -u)"
for tool in podman runc debootstrap curl tar flock; do
  command -v "$tool" >/dev/null ||
    fail "$tool not found (Debian: scripts/install-deps.sh test installs it)"
done

start=$SECONDS
deadline=$((SECONDS + budget))
bounded() {  # bounded COMMAND...: runs it with what is left of the budget
  local n=$((deadline - SECONDS))
  [ "$n" -gt 0 ] || fail "budget of $budget s spent (FORGE_CONTAINER_TEST_BUDGET)"
  timeout --kill-after=10 "$n" "$@"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$store" "$state"
exec 9>"$store/lock"
flock -w "$budget" 9 || fail "another run holds $store/lock for more than $budget s"
tmp=$(mktemp -d /var/tmp/forge-container-test.XXXXXX)
containers=()  # ids of the containers this run started, newest last
cleanup() {
  local i left=()
  for ((i = ${#containers[@]} - 1; i >= 0; i--)); do
    "${pm[@]}" rm --force --time 0 "${containers[i]}" >/dev/null 2>&1 || true
  done
  # A build cut short leaves buildah working containers in the store: with
  # the lock held, every container there is this script's.
  mapfile -t left < <("${pm[@]}" ps --all --external --quiet 2>/dev/null)
  [ ${#left[@]} -eq 0 ] || "${pm[@]}" rm --force "${left[@]}" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# podman 4.3 gives every container RLIMIT_NOFILE 1048576, which runc may not
# set here ("error setting rlimit type 7"): no default ulimits. Short names
# are searched nowhere but in local storage (localhost/ first). File locks
# (under --tmpdir) keep this store's locks apart from the machine's podman.
cat >"$tmp/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
lock_type = "file"
EOF
cat >"$tmp/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
export CONTAINERS_CONF=$tmp/containers.conf
export CONTAINERS_REGISTRIES_CONF=$tmp/registries.conf

bounded "${pm[@]}" info >"$tmp/info" 2>&1 ||
  fail "podman cannot run: $(grep -m1 -iE 'error|denied' "$tmp/info" || tail -n1 "$tmp/info")"
say "load average $(load) at start (nproc $(nproc))"

# ------------------------------------------------------------ 1. base image
# The bookworm mirror apt uses: the first deb822 or one-line "deb" entry
# with suite bookworm; deb.debian.org when there is none.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk '
      /^[[:space:]]*#/ { next }
      # one-line format: deb [options] URI SUITE COMPONENTS...
      $1 == "deb" { i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++;
                    if ($i ~ /^\[/ || $i ~ /\]$/) i++;
                    if ($(i + 1) == "bookworm") { print $i; exit } next }
      # deb822: paragraphs of "Field: value" lines
      /^Types:/ { deb = / deb( |$)/ }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (j = 2; j <= NF; j++) if ($j == "bookworm") suite = 1 }
      /^[[:space:]]*$/ { if (deb && suite && uri != "") { print uri; exit }
                         deb = 0; suite = 0; uri = "" }
      END { if (deb && suite && uri != "") print uri }' "$f" | head -n1
  done | head -n1
}

make_base() {
  local mirror rootfs t0
  mirror=$(apt_mirror)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  rootfs=$tmp/rootfs
  say "base: debootstrap --variant=minbase bookworm from $mirror"
  t0=$SECONDS
  bounded debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
    >"$tmp/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $(tail -n1 "$tmp/debootstrap.log") (log: $tmp/debootstrap.log is removed on exit)"
  # As Debian's own images: no downloaded packages or package lists.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  say "base: debootstrap took $((SECONDS - t0)) s"
  t0=$SECONDS
  tar -C "$rootfs" --numeric-owner -c . |
    bounded "${pm[@]}" import --quiet \
      --change "LABEL mini-forge.base-recipe=$base_recipe" \
      --change "LABEL mini-forge.base-created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      --change "LABEL mini-forge.base-mirror=$mirror" \
      --change 'CMD ["bash"]' - "$base" >/dev/null ||
    fail "podman import of the debootstrap tree failed"
  "${pm[@]}" tag "$base" "$base_slim" || fail "podman import left no $base"
  rm -rf "$rootfs"
  say "base: podman import took $((SECONDS - t0)) s"
}

label() {  # label IMAGE NAME: the label's value, empty when none
  "${pm[@]}" image inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null || true
}
if [ "$rebuild_base" = false ] && [ "$(label "$base" mini-forge.base-recipe)" = "$base_recipe" ]; then
  say "base: cached $base from $(label "$base" mini-forge.base-created) (--rebuild-base remakes it)"
  "${pm[@]}" image exists "$base_slim" || "${pm[@]}" tag "$base" "$base_slim" ||
    fail "cannot tag $base as $base_slim"
else
  make_base
fi

# ------------------------------------------------------------ 2. build
say "build: podman build -f deploy/docker/Dockerfile (load average $(load))"
t0=$SECONDS
# --network host: apt-get inside RUN needs the network; the host's needs no
# bridge or firewall setup.
build=("${pm[@]}" build --pull=never --network host
  -f "$root/deploy/docker/Dockerfile"
  --ignorefile "$root/deploy/docker/Dockerfile.dockerignore")
if ! bounded "${build[@]}" -t "$image" "$root" >"$tmp/build.log" 2>&1 ||
  ! grep -qxF "Successfully tagged $image" "$tmp/build.log"; then
  tail -n 30 "$tmp/build.log" >&2
  fail "podman build failed after $((SECONDS - t0)) s (last lines above)"
fi
say "build: took $((SECONDS - t0)) s (load average $(load))"
# The build stage gets a tag too (from the layer cache, a second), so that
# pruning the untagged images of earlier builds keeps it: it is the cache
# of the next run's compile.
bounded "${build[@]}" --target build -t "$image_build" "$root" >>"$tmp/build.log" 2>&1 ||
  fail "podman build --target build (from the cache) failed"
"${pm[@]}" image prune --force >/dev/null

# ------------------------------------------------------------ 3. run
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$tmp/data
install -d -m 0700 -o 10001 -g 10001 "$data"
name=forge-ct-$$
started=""
run() {  # run ROLE podman-run-arguments...: starts a container, records its id
  local role=$1
  shift
  started=$(bounded "${pm[@]}" run -d --name "$name-$role" "$@") ||
    fail "podman run of the $role container failed"
  containers+=("$started")
}
# The holder owns the shareable IPC namespace (its /dev/shm) and the PID
# namespace; broker and frontend join both, so a restarted broker finds the
# same segment and the frontend's kill(pid, 0) sees the broker.
run pod --ipc shareable --shm-size 64m --network none "$image" sleep infinity
pod=$started
env=(-e SHM_NAME=mini-forge -e POOL_CAPACITY=1024 -e LOG_FORMAT=text)
run broker --ipc "container:$pod" --pid "container:$pod" --network none \
  -v "$data:/var/lib/mini-forge" "${env[@]}" \
  -e DB_URL=sqlite:/var/lib/mini-forge/forge.db "$image" forge-broker
broker=$started
run frontend --ipc "container:$pod" --pid "container:$pod" --network host \
  "${env[@]}" -e HOST=127.0.0.1 -e PORT="$port" -e WORKERS=2 "$image" forge-frontend
url=http://127.0.0.1:$port

logs() {  # the last lines of broker and frontend, for a failure message
  local c
  for c in broker frontend; do
    echo "--- $c (last lines)" >&2
    "${pm[@]}" logs --tail 15 "$name-$c" >&2 2>&1 || true
  done
}
status() {  # status PATH: the HTTP status, 000 when nothing answers
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url$1" || true
}
wait_for() {  # wait_for SECONDS WHAT COMMAND...: polls every 0.2 s
  local secs=$1 what=$2
  local until=$((SECONDS + secs))
  shift 2
  until "$@"; do
    if [ "$SECONDS" -ge "$until" ] || [ "$SECONDS" -ge "$deadline" ]; then
      logs
      fail "$what: not within $secs s"
    fi
    sleep 0.2
  done
}
keys=$tmp/keys
draw() {  # draw N: /get-keys?count=N, appends the keys; fails on non-200
  local code
  code=$(curl -s -o "$tmp/batch" -w '%{http_code}' --max-time 10 "$url/get-keys?count=$1") || true
  [ "$code" = 200 ] || return 1
  cat "$tmp/batch" >>"$keys"
  [ -z "$(tail -c1 "$tmp/batch")" ] || echo >>"$keys"
}
healthy() { [ "$(status /healthz)" = 200 ]; }
unhealthy() { [ "$(status /healthz)" = 503 ]; }
: >"$keys"

t0=$SECONDS
wait_for 60 "frontend /healthz 200 (broker up, keys in the ring)" healthy
for _ in 1 2 3 4 5; do draw 500 || { logs; fail "GET /get-keys before the restart"; }; done
before=$(grep -c . "$keys")
say "run: $before keys from the stack ($((SECONDS - t0)) s after start)"

"${pm[@]}" kill --signal KILL "$broker" >/dev/null || fail "podman kill of the broker container failed"
wait_for 30 "frontend /healthz 503 after podman kill of the broker" unhealthy
# Keys left in the ring are still served; then 503 (nothing refills it).
drained=0
while draw 100; do
  drained=$((drained + 1))
  [ "$drained" -le 20 ] || { logs; fail "the ring did not run dry with the broker killed (20 batches of 100)"; }
done
[ "$(status /get-key)" = 503 ] || { logs; fail "GET /get-key with the broker killed and the ring empty is not 503"; }
during=$(($(grep -c . "$keys") - before))
say "run: broker killed; $during keys from the ring, then 503"

t0=$SECONDS
bounded "${pm[@]}" start "$broker" >/dev/null || { logs; fail "podman start of the broker container failed"; }
wait_for 60 "frontend /healthz 200 after the broker restarted" healthy
# More than the ring holds (1024): the restarted broker refills it.
for _ in 1 2 3 4 5; do draw 500 || { logs; fail "GET /get-keys after the restart"; }; done
total=$(grep -c . "$keys")
say "run: serving resumed $((SECONDS - t0)) s after podman start; $((total - before - during)) keys since"

dups=$(sort "$keys" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups keys served twice among $total (e.g. $(sort "$keys" | uniq -d | head -n3 | tr '\n' ' '))"
bad=$(grep -cvE '^[0-9A-Za-z]{7}$' "$keys" || true)
[ "$bad" -eq 0 ] || fail "$bad lines are not 7-character Base62 keys (e.g. $(grep -vE '^[0-9A-Za-z]{7}$' "$keys" | head -n1))"
say "PASS: $total keys across a broker kill and restart, 0 duplicates; $((SECONDS - start)) s in all (load average $(load))"

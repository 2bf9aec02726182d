#!/usr/bin/env bash
# tests/deploy/check_deploy.sh — offline checks of deploy/ (CTest
# deploy.check_deploy), without a systemd PID 1, a Docker engine or a cluster:
#   * systemd units: `systemd-analyze verify` reports nothing (it exits 0 on
#     unknown keys and bad values, so any output fails; two broken copies
#     prove it can fail); `systemd-analyze security` exposure <= 2.0; key
#     hardening lines present; PrivateIPC/RemoveIPC/DynamicUser=yes and
#     anything hiding /dev/shm absent; the frontend's ExecStartPre, expanded
#     as systemd does, waits for the segment and returns once it exists;
#   * compose.yml and the Kubernetes manifests: well-formed YAML and the
#     invariants in check_manifests.py (one /dev/shm, uid and PID namespace
#     per pair, /healthz readiness, DB_URL from a Secret, known config keys);
#   * the compose healthchecks: the frontend's against 200 and 503 answers,
#     the broker's against the real forge-broker and forge-ctl when built;
#   * the Kubernetes frontend command waits for the segment, then execs;
#   * when installed: `docker compose config`, `kubectl kustomize`, the
#     python3-kubernetes field check, and the Dockerfile's apt package names.
# Prints one PASS/FAIL/SKIP line per check and "N passed, M failed" last;
# exits 1 if anything failed. With CI=true the checks whose tools the test
# dependencies install (systemd-analyze: Debian package systemd, see
# scripts/install-deps.sh test) and the healthcheck against the built
# programs fail instead of skipping; only the optional tools (docker,
# kubectl, the apt lists) may still skip. $FORGE_BIN_DIR (CTest sets it) holds the
# programs; ExecStart= falls back to /bin/true when they are not built.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy=$root/deploy
units=(forge-broker forge-frontend)
bin_dir=${FORGE_BIN_DIR:-$root/build/bin}
passed=0
failed=0
tmp=$(mktemp -d)
broker_pid=""
cleanup() {  # stops only the broker this script started, by pid
  [ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
  rm -f "/dev/shm/mini-forge.deploy-hc-$$" "/dev/shm/mini-forge.deploy-hc-$$.lock" \
    "/dev/shm/mini-forge.deploy-check-$$" "/dev/shm/mini-forge.deploy-k8s-$$"
  rm -rf "$tmp"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
skip() { echo "SKIP: $1"; }
# A check CI must run: under CI=true its missing prerequisite is a failure.
need() {
  if [ "${CI:-}" = true ]; then fail "$1 (CI=true: a required check cannot be skipped)"; else
    skip "$1"
  fi
}
check() {  # check "what" command...: PASS when the command succeeds
  local what=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then pass "$what"; else
    fail "$what: $(head -c 600 "$tmp/out" | tr '\n' ' ')"
  fi
}

# The one Python with PyYAML (Debian's python3-yaml).
python=""
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import yaml' 2>/dev/null; then python=$py; break; fi
done

# ---------------------------------------------------------------- files
for f in README.md systemd/forge-broker.service systemd/forge-frontend.service \
  systemd/mini-forge.env systemd/README.md docker/Dockerfile \
  docker/Dockerfile.dockerignore docker/compose.yml k8s/deployment.yaml \
  k8s/service.yaml k8s/configmap.yaml k8s/secret.example.yaml \
  k8s/kustomization.yaml; do
  if [ -f "$deploy/$f" ]; then pass "deploy/$f exists"; else
    fail "deploy/$f is missing"
  fi
done

# ---------------------------------------------------------------- systemd
# Copies the units into $1 with ExecStart= pointing at programs that exist.
stage_units() {
  mkdir -p "$1"
  local u exe
  for u in "${units[@]}"; do
    exe=$bin_dir/$u
    [ -x "$exe" ] || exe=/bin/true
    sed "s#/usr/local/bin/$u\$#$exe#" "$deploy/systemd/$u.service" >"$1/$u.service"
  done
}

# Succeeds when systemd-analyze verify exits 0 and prints nothing.
verify_units() {
  local out
  out=$(cd "$1" && systemd-analyze verify --man=no \
    ./forge-broker.service ./forge-frontend.service 2>&1)
  local rc=$?
  [ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
  echo "exit $rc: $out"
  return 1
}
verify_fails() {
  if verify_units "$1"; then echo "verify reported nothing"; return 1; fi
}

if command -v systemd-analyze >/dev/null; then
  [ -x "$bin_dir/forge-broker" ] ||
    echo "note: $bin_dir/forge-broker not built; ExecStart= checked with /bin/true"
  stage_units "$tmp/units"
  check "systemd-analyze verify: both units clean" verify_units "$tmp/units"

  # The check above must be able to fail: a bad value and a misspelt key.
  stage_units "$tmp/bad1"
  sed -i 's/^Restart=on-failure$/Restart=sometimes/' "$tmp/bad1/forge-broker.service"
  check "verify catches a bad value (Restart=sometimes)" \
    verify_fails "$tmp/bad1"
  stage_units "$tmp/bad2"
  sed -i 's/^ProtectSystem=strict$/ProtectSytem=strict/' "$tmp/bad2/forge-frontend.service"
  check "verify catches a misspelt key (ProtectSytem=)" \
    verify_fails "$tmp/bad2"

  if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
    for u in "${units[@]}"; do
      # --threshold is exposure x 10: fail above 2.0 ("OK" is below 4.0).
      check "systemd-analyze security: $u exposure <= 2.0" \
        systemd-analyze security --offline=yes --threshold=20 \
        "$tmp/units/$u.service"
    done
  else
    need "systemd-analyze security --offline (needs systemd >= 250)"
  fi
else
  need "systemd-analyze verify/security (systemd-analyze not installed; Debian: apt-get install systemd)"
fi

required=(User=mini-forge Group=mini-forge RemoveIPC=no NoNewPrivileges=yes
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes ProtectKernelTunables=yes
  ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" RestrictNamespaces=yes
  LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes
  SystemCallArchitectures=native CapabilityBoundingSet= LimitNOFILE=65536
  KillSignal=SIGTERM KillMode=mixed Restart=on-failure Type=exec
  "EnvironmentFile=-/etc/mini-forge/mini-forge.env")
for u in "${units[@]}"; do
  file=$deploy/systemd/$u.service
  missing=()
  for line in "${required[@]}"; do
    grep -qxF -- "$line" "$file" || missing+=("$line")
  done
  grep -qE '^TimeoutStopSec=[0-9]+' "$file" || missing+=(TimeoutStopSec=)
  grep -qE '^RestartSec=[0-9]+' "$file" || missing+=(RestartSec=)
  grep -qxF "ExecStart=/usr/local/bin/$u" "$file" || missing+=("ExecStart=/usr/local/bin/$u")
  if [ ${#missing[@]} -eq 0 ]; then pass "$u.service: hardening and lifecycle lines"; else
    fail "$u.service: missing lines: ${missing[*]}"
  fi
  # Anything that would separate the units' /dev/shm or delete the segment.
  bad=$(grep -nE '^(PrivateIPC|RemoveIPC|DynamicUser)=(yes|true|on|1)$|^(TemporaryFileSystem|InaccessiblePaths|ReadOnlyPaths)=.*/dev/shm|^(IPCNamespacePath|JoinsNamespaceOf)=' "$file")
  if [ -z "$bad" ]; then pass "$u.service: nothing hides or removes /dev/shm"; else
    fail "$u.service: forbidden: $bad"
  fi
done
front=$deploy/systemd/forge-frontend.service
check "forge-frontend.service: After= and BindsTo= the broker" \
  bash -c "grep -qE '^After=.*forge-broker.service' '$front' && grep -qxF 'BindsTo=forge-broker.service' '$front'"
check "forge-broker.service: StateDirectory and SQLite in it" \
  bash -c "grep -qxF 'StateDirectory=mini-forge' '$deploy/systemd/forge-broker.service' && grep -qxF 'Environment=DB_URL=sqlite:/var/lib/mini-forge/forge.db' '$deploy/systemd/forge-broker.service'"

# The frontend's ExecStartPre, expanded the way systemd expands it ($$ is a
# literal $; ${NAME} and $NAME take the unit's environment, anything else in
# ${...} is empty), must return once the segment exists and keep waiting
# while it does not.
# shellcheck disable=SC2016 # the Python program is in single quotes.
systemd_expand() {  # $1 = command line; environment = the unit's
  "$python" -c '
import os, re, sys
s = sys.argv[1].replace("$$", "\0")
name = r"[A-Za-z_][A-Za-z0-9_]*"
s = re.sub(r"\$\{([^}]*)\}", lambda m: os.environ.get(m[1], "")
           if re.fullmatch(name, m[1]) else "", s)
s = re.sub(r"\$(" + name + ")", lambda m: os.environ.get(m[1], ""), s)
print(s.replace("\0", "$"))' "$1"
}
pre_returns() {  # $1 = expanded command; SHM_NAME = $name
  # shellcheck disable=SC2016 # $0 is expanded by the inner bash.
  SHM_NAME=$name timeout 5 bash -c 'eval "$0"' "$1" && return 0
  echo "did not return within 5 s although /dev/shm/mini-forge.$name exists: $1"
  return 1
}
pre=$(sed -n 's/^ExecStartPre=//p' "$front")
if [ -n "$pre" ] && [ -n "$python" ] && [ -w /dev/shm ]; then
  name=deploy-check-$$
  touch "/dev/shm/mini-forge.$name"
  cmd=$(SHM_NAME=$name systemd_expand "$pre")
  check "ExecStartPre returns once the segment exists" pre_returns "$cmd"
  rm -f "/dev/shm/mini-forge.$name"
  # shellcheck disable=SC2016
  SHM_NAME=$name timeout 1 bash -c 'eval "$0"' "$cmd" >/dev/null 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then pass "ExecStartPre waits while the segment is missing"; else
    fail "ExecStartPre waits while the segment is missing: exit $rc, want a timeout (124)"
  fi
else
  fail "forge-frontend.service ExecStartPre: none, or no python3/writable /dev/shm here"
fi

env_keys_ok() {
  "$python" - "$root" "$deploy/systemd/mini-forge.env" <<'EOF'
import pathlib, re, sys
root, env = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
keys = set(re.findall(r"^\| `([A-Z_]+)` \| `--", (root / "README.md").read_text(), re.M))
used = {l.lstrip("#").split("=", 1)[0] for l in env.read_text().splitlines()
        if re.match(r"#?[A-Z_]+=", l)}
bad = sorted(used - keys)
sys.exit(f"unknown keys {bad}; allowed {sorted(keys)}" if bad or len(keys) < 10 else 0)
EOF
}

# ---------------------------------------------------------- manifests (YAML)
if [ -n "$python" ]; then
  check "mini-forge.env: only documented config keys" env_keys_ok
  "$python" "$root/tests/deploy/check_manifests.py" "$root" >"$tmp/manifests" 2>&1
  rc=$?
  while IFS= read -r line; do
    case $line in
      PASS:*) pass "${line#PASS: }" ;;
      FAIL:*) fail "${line#FAIL: }" ;;
      *) echo "$line" ;;
    esac
  done <"$tmp/manifests"
  [ "$rc" -eq 0 ] || fail "check_manifests.py crashed (exit $rc): see above"
else
  fail "python3 with PyYAML not found (Debian: apt-get install python3-yaml)"
fi

# The frontend healthcheck of compose.yml against real HTTP answers.
healthcheck_against() {  # $1 = status the server answers
  "$python" - "$deploy/docker/compose.yml" "$1" <<'EOF'
import http.server, subprocess, sys, threading, yaml
cmd = yaml.safe_load(open(sys.argv[1]))["services"]["frontend"]["healthcheck"]["test"]
status = int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        code = status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
script = cmd[3].replace("$$", "$").replace("/8080", f"/{srv.server_port}")
rc = subprocess.run(cmd[1:3] + [script], timeout=10).returncode
sys.exit(0 if (rc == 0) == (status == 200) else f"healthcheck exit {rc} for {status}")
EOF
}
if [ -n "$python" ]; then
  check "compose frontend healthcheck passes on 200" healthcheck_against 200
  check "compose frontend healthcheck fails on 503" healthcheck_against 503
fi

# The Kubernetes frontend command: waits for the segment, then execs
# forge-frontend (a stub here that prints a marker).
k8s_wrapper_execs() {  # $1 = the script; SHM_NAME = $name
  SHM_NAME=$name PATH=$tmp/stub:$PATH timeout 5 sh -c "$1" | grep -qx "stub forge-frontend" &&
    return 0
  echo "did not exec forge-frontend within 5 s although /dev/shm/mini-forge.$name exists"
  return 1
}
if [ -n "$python" ] && [ -w /dev/shm ]; then
  wrapper=$("$python" -c 'import sys, yaml
pod = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]["spec"]["template"]["spec"]
print([c for c in pod["containers"] if c["name"] == "frontend"][0]["command"][2])' \
    "$deploy/k8s/deployment.yaml")
  mkdir -p "$tmp/stub"
  printf '#!/bin/sh\necho "stub forge-frontend"\n' >"$tmp/stub/forge-frontend"
  chmod +x "$tmp/stub/forge-frontend"
  name=deploy-k8s-$$
  touch "/dev/shm/mini-forge.$name"
  check "k8s frontend command execs forge-frontend once the segment exists" \
    k8s_wrapper_execs "$wrapper"
  rm -f "/dev/shm/mini-forge.$name"
  SHM_NAME=$name PATH=$tmp/stub:$PATH timeout 1 sh -c "$wrapper" >/dev/null 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then pass "k8s frontend command waits while the segment is missing"; else
    fail "k8s frontend command waits while the segment is missing: exit $rc, want a timeout (124)"
  fi
fi

# The broker healthcheck of compose.yml against the real programs: healthy
# only while a broker runs on the segment.
broker_health() {  # $1 = the CMD-SHELL command; environment = the broker's
  PATH=$bin_dir:$PATH sh -c "$1"
}
if [ -n "$python" ] && [ -x "$bin_dir/forge-broker" ] && [ -x "$bin_dir/forge-ctl" ]; then
  hc=$("$python" -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["services"]["broker"]["healthcheck"]["test"][1])' \
    "$deploy/docker/compose.yml")
  export SHM_NAME=deploy-hc-$$ DB_URL=sqlite:$tmp/hc.db
  if broker_health "$hc" >/dev/null 2>&1; then
    fail "compose broker healthcheck fails without a segment"
  else pass "compose broker healthcheck fails without a segment"; fi
  "$bin_dir/forge-broker" 2>"$tmp/broker.log" &
  broker_pid=$!
  for _ in $(seq 100); do  # wait up to 10 s for the broker to be up
    broker_health "$hc" >/dev/null 2>&1 && break
    sleep 0.1
  done
  check "compose broker healthcheck passes while the broker runs" broker_health "$hc"
  kill -TERM "$broker_pid"
  wait "$broker_pid"
  rc=$?
  broker_pid=""
  if [ "$rc" -eq 0 ]; then pass "forge-broker exits 0 on SIGTERM"; else
    fail "forge-broker exits 0 on SIGTERM: exit $rc; $(tail -n 3 "$tmp/broker.log")"
  fi
  if broker_health "$hc" >/dev/null 2>&1; then
    fail "compose broker healthcheck fails once the broker stopped"
  else pass "compose broker healthcheck fails once the broker stopped"; fi
  rm -f "/dev/shm/mini-forge.$SHM_NAME" "/dev/shm/mini-forge.$SHM_NAME.lock"
  unset SHM_NAME DB_URL
else
  need "compose broker healthcheck (forge-broker/forge-ctl not built in $bin_dir)"
fi

# ---------------------------------------------------------- optional tools
compose_config() {  # $1 = profile
  local file=$deploy/docker/compose.yml
  if docker compose version >/dev/null 2>&1; then
    POSTGRES_PASSWORD=x docker compose -f "$file" --profile "$1" config -q
  else
    # docker-compose 1.x predates the top-level `name:`.
    sed '/^name: /d' "$file" >"$tmp/compose-v1.yml"
    POSTGRES_PASSWORD=x docker-compose -f "$tmp/compose-v1.yml" \
      --project-directory "$deploy/docker" --profile "$1" config -q
  fi
}
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; then
  for p in single scaleout; do
    check "docker compose config --profile $p" compose_config "$p"
  done
else
  skip "docker compose config (no compose client installed)"
fi

if command -v kubectl >/dev/null; then
  check "kubectl kustomize deploy/k8s" kubectl kustomize "$deploy/k8s"
else
  skip "kubectl kustomize (kubectl not installed)"
fi

# The Dockerfile's apt packages must exist under these names in Debian 12.
apt_packages_exist() {
  local p pkgs found missing=()
  mapfile -t pkgs < <(sed -n '/apt-get install/,/rm -rf/{/rm -rf/!p}' \
    "$deploy/docker/Dockerfile" | tr -cs 'a-z0-9.+-' '\n' |
    grep -E '^[a-z0-9]' | grep -vxE 'apt-get|install')
  [ ${#pkgs[@]} -ge 10 ] || { echo "found only ${#pkgs[@]} packages in the Dockerfile"; return 1; }
  # One apt-cache call (each costs about a second): names with a candidate.
  found=$(apt-cache policy "${pkgs[@]}" 2>/dev/null | awk '
    /^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) }
    /^  Candidate:/ && $2 != "(none)" { print name }')
  for p in "${pkgs[@]}"; do
    grep -qxF -- "$p" <<<"$found" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || { echo "not in the apt lists: ${missing[*]}"; return 1; }
}
if grep -q '^VERSION_ID="12"' /etc/os-release 2>/dev/null &&
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  check "Dockerfile: apt packages exist in Debian 12" apt_packages_exist
else
  skip "Dockerfile apt package names (not Debian 12, or no apt lists)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

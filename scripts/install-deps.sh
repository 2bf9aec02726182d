#!/usr/bin/env bash
# Installs the Debian 12 packages mini-forge needs, only those missing.
#   scripts/install-deps.sh [build|test|bench]...   (default: build)
# build: compiler and libraries; test: + PostgreSQL server, python3 tools
# (pytest and venv for clients/python), Go (clients/go),
# systemd (for systemd-analyze: the deploy check verifies the units offline),
# chromium (frontend.status_page loads /status in it, headless),
# podman, runc, debootstrap, curl (deploy/container-test.sh);
# bench: + nginx-light, wrk, gnuplot. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

build_pkgs=(g++ cmake make pkg-config libsqlitecpp-dev
  libsqlite3-dev libcli11-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  libcpp-httplib-dev libpq-dev libbenchmark-dev)
test_pkgs=(postgresql python3 python3-yaml python3-prometheus-client util-linux procps
  iproute2
  golang-go python3-pytest python3-venv
  systemd
  prometheus
  chromium
  podman runc debootstrap curl)
bench_pkgs=(nginx-light wrk gnuplot-nox)

want=()
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)
for g in "${groups[@]}"; do
  case "$g" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "install-deps: unknown group '$g'; allowed: build test bench" >&2
       exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=()
[ "$(id -u)" -ne 0 ] && SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Run the test suite. Installs the real servers the tests talk to when they are missing
# (Redis and BIND9 from Debian, Anvil from npm), then runs pytest with the project's virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Building from source: git, the image builders (podman, buildah) and an image registry.
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v buildah >/dev/null 2>&1 || need_apt+=(buildah)
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
# BIND9's named: the DNS server the domain tests send RFC 2136 updates to (in /usr/sbin, which a
# non-root PATH may lack; the tests look there too).
have_named() { command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ]; }
have_named || need_apt+=(bind9)
if [ ${#need_apt[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}") >/dev/null 2>&1 \
    || echo "warning: could not install ${need_apt[*]}; tests that need them will be skipped (they fail under CI=true)" >&2
fi
if [ -f package.json ] && [ ! -d node_modules ] && command -v npm >/dev/null 2>&1; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null \
    || echo "warning: npm install failed; tests that need Anvil will be skipped (they fail under CI=true)" >&2
fi

# CI runs every test: a missing peer fails the run here instead of skipping its tests (the
# suite's conftest turns any such skip into a failure too).
if [ "${CI:-}" = true ]; then
  missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=("redis-server (Debian package redis-server)")
  have_named || missing+=("named (Debian package bind9)")
  [ -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || missing+=("anvil (npm install)")
  command -v git >/dev/null 2>&1 || missing+=("git (Debian package git)")
  command -v podman >/dev/null 2>&1 || missing+=("podman (Debian package podman)")
  command -v buildah >/dev/null 2>&1 || missing+=("buildah (Debian package buildah)")
  command -v docker-registry >/dev/null 2>&1 || missing+=("docker-registry (Debian package docker-registry)")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "error: CI=true but these test peers are missing: ${missing[*]}" >&2
    exit 1
  fi
fi

# The suite runs in worker processes (pytest-xdist): most of its time is spent waiting on servers,
# blocks and subprocesses, so it takes about half as long on two cores. Each worker starts its own
# test servers. TEST_WORKERS sets the count (0: one process); an -n of the caller's wins.
workers=${TEST_WORKERS:-}
if [ -z "$workers" ]; then
  cores=$(nproc 2>/dev/null || echo 2)
  workers=$((cores < 2 ? 2 : (cores > 4 ? 4 : cores)))
fi
if ! "$python" -c "import xdist" >/dev/null 2>&1; then
  echo "warning: pytest-xdist is missing (pip install -e '.[dev]'); running in one process" >&2
  workers=0
fi

exec "$python" -m pytest -n "$workers" "$@"

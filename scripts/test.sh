#!/usr/bin/env bash
# `make test`: install what a clean clone lacks, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)  # the viewer's and event modules' JavaScript unit tests (tests/frontend)
command -v redis-server >/dev/null || need+=(redis-server)
command -v docker-compose >/dev/null || need+=(docker-compose)
# tests/deploy runs the render image under a real Docker engine (tests/support/containers.py starts dockerd and
# builds a Debian base with debootstrap when registry images cannot be pulled).
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing ${need[*]} (Debian packages)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Please install these Debian packages, then re-run: ${need[*]}" >&2
    echo "  sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

scripts/setup.sh
source scripts/env.sh
export CHAT3D_ENV=test
exec python -m pytest "$@"

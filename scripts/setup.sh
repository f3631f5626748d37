#!/usr/bin/env bash
# Install what a fresh clone lacks: the virtualenv with Chat3D and its test tools, and bun (from the npm
# registry) for Reflex's frontend build. Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN=${PYTHON:-$(command -v python3.11 || command -v python3)}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON_BIN"
  "$PYTHON_BIN" -m venv .venv
fi

stamp=.venv/.chat3d-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python packages (first run takes a minute or two; log in .venv/pip.log)"
  if ! { .venv/bin/python -m pip install --upgrade pip wheel && .venv/bin/python -m pip install -e ".[test]"; } > .venv/pip.log 2>&1; then
    tail -30 .venv/pip.log >&2
    echo "pip install failed; the full log is in .venv/pip.log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

if [ ! -x .tools/bin/bun ]; then
  echo "==> installing bun from the npm registry"
  "$PYTHON_BIN" scripts/install_bun.py .tools/bin/bun
fi

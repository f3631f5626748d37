# Sourced by the other scripts: the environment Reflex needs to build offline, and the venv on PATH.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/.venv/bin:$ROOT/.tools/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export REFLEX_TELEMETRY_ENABLED=false
export PYTHONUNBUFFERED=1

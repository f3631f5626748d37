#!/usr/bin/env bash
# `make dev`: install, migrate, start the render service, then serve the app on one port (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

export CHAT3D_ENV=${CHAT3D_ENV:-development}
export PORT=${PORT:-3000}
export DATA_DIR=${DATA_DIR:-$ROOT/data}
export RENDER_PORT=${RENDER_PORT:-8090}
mkdir -p "$DATA_DIR"

python -m chat3d.bootstrap

render_pid=""
cleanup() { [ -n "$render_pid" ] && kill "$render_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if [ -z "${RENDER_SERVICE_URL:-}" ]; then
  # A fresh shared secret per run, given to both processes. The render service starts with an empty
  # environment (env -i) plus its own RENDER_* settings and PATH: none of the shell's secrets reach it.
  export RENDER_SERVICE_TOKEN=${RENDER_SERVICE_TOKEN:-$(python -c 'import secrets; print(secrets.token_hex(32))')}
  echo "==> render service on 127.0.0.1:$RENDER_PORT"
  render_env=(PATH="$PATH" LANG=C.UTF-8 RENDER_HOST=127.0.0.1 RENDER_PORT="$RENDER_PORT"
              RENDER_SERVICE_TOKEN="$RENDER_SERVICE_TOKEN")
  while IFS='=' read -r name value; do
    case "$name" in RENDER_HOST|RENDER_PORT|RENDER_SERVICE_TOKEN|RENDER_SERVICE_URL) ;; RENDER_*) render_env+=("$name=$value") ;; esac
  done < <(env)
  env -i "${render_env[@]}" python -m render_service > "$DATA_DIR/render-service.log" 2>&1 &
  render_pid=$!
fi

# Loopback only unless CHAT3D_HOST says otherwise (e.g. CHAT3D_HOST=0.0.0.0 to reach it from another machine):
# a development app has a dev mailbox and well-known seed credentials. The container image binds 0.0.0.0 itself.
export CHAT3D_HOST=${CHAT3D_HOST:-127.0.0.1}
echo "==> Chat3D on http://localhost:$PORT, listening on $CHAT3D_HOST  (mail outbox: http://localhost:$PORT/dev/mailbox)"
reflex run --env prod --single-port --backend-host "$CHAT3D_HOST" --backend-port "$PORT" --frontend-port "$PORT"

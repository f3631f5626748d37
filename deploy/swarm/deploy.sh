#!/bin/sh
# Deploy (or update) Chat3D on Docker Swarm from docker-compose.yml: deploy/swarm/deploy.sh [stack-name]
# Run on a manager node from the repository root, with the variables docker-compose.yml reads exported (Swarm does
# not read .env). docs/deployment.md ("Docker Swarm") lists the steps before it: images on every node, secrets.
set -eu
stack="${1:-chat3d}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# Secrets supply these; empty values tell the containers to read /run/secrets/... (see chat3d/settings.py).
export JWT_SECRET="${JWT_SECRET-}" RENDER_SERVICE_TOKEN="${RENDER_SERVICE_TOKEN-}"
# Swarm ignores security_opt, so the render service cannot build its namespaces (docs/render-sandbox.md).
export RENDER_SANDBOX="${RENDER_SANDBOX:-minimal}"
python3 "$here/stack.py" "$root/docker-compose.yml" | docker stack deploy --prune -c - "$stack"

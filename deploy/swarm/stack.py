"""docker-compose.yml as `docker stack deploy` takes it: prints the stack file on stdout.

The compose file is the one source for both tools, but their schemas disagree on two keys: Swarm refuses
`depends_on` with conditions and `pids_limit`, which Debian's docker-compose 1.29 needs (it ignores
`deploy.resources.limits.pids`, and it has no other way to wait for health checks). This rewrites only those:
`depends_on` becomes a plain list (Swarm ignores it anyway; restart policies cover start-up order) and
`pids_limit` moves to `deploy.resources.limits.pids`. `${...}` references are left for `docker stack deploy`
to fill from the environment. Usage: python3 deploy/swarm/stack.py [docker-compose.yml] > stack.yml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def stack_file(compose: dict) -> dict:
    for service in compose.get("services", {}).values():
        deps = service.get("depends_on")
        if isinstance(deps, dict):
            service["depends_on"] = list(deps)
        pids = service.pop("pids_limit", None)
        if pids is not None:
            limits = service.setdefault("deploy", {}).setdefault("resources", {}).setdefault("limits", {})
            limits["pids"] = pids
    return compose


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[2] / "docker-compose.yml")
    compose = yaml.safe_load(path.read_text())
    compose = {k: v for k, v in compose.items() if not k.startswith("x-")}  # anchors are already expanded
    sys.stdout.write(yaml.safe_dump(stack_file(compose), sort_keys=False, width=120))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

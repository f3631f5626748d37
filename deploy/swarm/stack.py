"""docker-compose.yml as `docker stack deploy` takes it: prints the stack file on stdout.

The compose file is the one source for both tools, but they disagree on three keys: Swarm refuses
`depends_on` with conditions and `pids_limit`, which Debian's docker-compose 1.29 needs (it ignores
`deploy.resources.limits.pids`, and it has no other way to wait for health checks), and Swarm silently drops a
service's `tmpfs:` list (the read-only render container then has no writable /tmp or /jobs). This rewrites only
those: `depends_on` becomes a plain list (Swarm ignores it anyway; restart policies cover start-up order),
`pids_limit` moves to `deploy.resources.limits.pids`, and each `tmpfs:` entry becomes a tmpfs mount under
`volumes:` with the same size and mode. `${...}` references are left for `docker stack deploy` to fill from the
environment. Usage: python3 deploy/swarm/stack.py [docker-compose.yml] > stack.yml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def tmpfs_mount(spec: str) -> dict:
    """"/jobs:size=1g,mode=0711" as a long-syntax tmpfs mount (the form Swarm applies)."""
    target, _, opts = spec.partition(":")
    tmpfs: dict[str, int] = {}
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key == "size":
            unit = _UNITS.get(value[-1:].lower(), 1)
            tmpfs["size"] = int(value[:-1] if unit > 1 else value) * unit
        elif key == "mode":
            tmpfs["mode"] = int(value, 8)
        else:
            raise ValueError(f"tmpfs option {opt!r} of {spec!r} has no Swarm equivalent")
    mount: dict = {"type": "tmpfs", "target": target}
    if tmpfs:
        mount["tmpfs"] = tmpfs
    return mount


def stack_file(compose: dict) -> dict:
    for service in compose.get("services", {}).values():
        deps = service.get("depends_on")
        if isinstance(deps, dict):
            service["depends_on"] = list(deps)
        pids = service.pop("pids_limit", None)
        if pids is not None:
            limits = service.setdefault("deploy", {}).setdefault("resources", {}).setdefault("limits", {})
            limits["pids"] = pids
        tmpfs = service.pop("tmpfs", None)
        if tmpfs:
            mounts = [tmpfs] if isinstance(tmpfs, str) else tmpfs
            service.setdefault("volumes", []).extend(tmpfs_mount(m) for m in mounts)
    return compose


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[2] / "docker-compose.yml")
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    compose = {k: v for k, v in compose.items() if not k.startswith("x-")}  # anchors are already expanded
    sys.stdout.write(yaml.safe_dump(stack_file(compose), sort_keys=False, width=120))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""rxconfig.py and Reflex 0.10.1's prod server: REDIS_URL selects Reflex's Redis state manager (needed by several
backend workers), and GRANIAN_WORKERS (set for the app in docker-compose.yml) is the worker count Reflex gives granian.

Each check runs in a fresh `python -c` so that rxconfig and Reflex's cached config never leak into the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chat3d.settings import REPO_ROOT

_CONFIG_PROBE = """
import json
from reflex_base.config import get_config
from reflex.istate.manager import StateManager
from reflex.utils import prerequisites
c = get_config()
print(json.dumps({"mode": str(getattr(c.state_manager_mode, "value", c.state_manager_mode)), "redis_url": c.redis_url,
                  "parsed": prerequisites.parse_redis_url(), "manager": type(StateManager.create()).__name__}))
"""

# Runs Reflex's own prod entry point for granian with granian's Server replaced by a recorder (nothing is served,
# nothing is forked) to read the worker count Reflex passes.
_WORKERS_PROBE = """
import json
import granian.server
from reflex.utils import exec as rx_exec
seen = {}
class Recorder:
    def __init__(self, **kw):
        seen.update(kw)
    def serve(self):
        pass
granian.server.Server = Recorder
rx_exec._backend_start_method = lambda: None
rx_exec.get_app_instance_from_file = lambda: "app:app"
rx_exec._get_backend_workers = lambda: 1  # what Reflex would pick itself without Redis
from reflex_base.constants import LogLevel
rx_exec.run_granian_backend_prod("127.0.0.1", 3000, LogLevel.ERROR)
print(json.dumps({"granian": rx_exec.should_use_granian(), "workers": seen["workers"]}))
"""


def _probe(code: str, **env_extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "REFLEX_REDIS_URL", "REFLEX_STATE_MANAGER_MODE", "GRANIAN_WORKERS",
                        "REFLEX_USE_GRANIAN"}}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env | env_extra,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_redis_url_selects_reflexs_redis_state_manager() -> None:
    url = "redis://127.0.0.1:6399/3"  # nothing listens there: creating the manager must not need a connection
    got = _probe(_CONFIG_PROBE, REDIS_URL=url)
    assert got == {"mode": "redis", "redis_url": url, "parsed": url, "manager": "StateManagerRedis"}


def test_without_redis_url_reflex_keeps_the_disk_state_manager() -> None:
    got = _probe(_CONFIG_PROBE)
    assert got == {"mode": "disk", "redis_url": None, "parsed": None, "manager": "StateManagerDisk"}


def test_granian_workers_sets_reflexs_backend_worker_count() -> None:
    assert _probe(_WORKERS_PROBE, REFLEX_USE_GRANIAN="true", GRANIAN_WORKERS="4") == {"granian": True, "workers": 4}
    assert _probe(_WORKERS_PROBE, REFLEX_USE_GRANIAN="true")["workers"] == 1  # unset: Reflex's own choice

"""The real app as a user gets it: `make dev` (scripts/dev.sh: `reflex run --env prod --single-port`) plus its
render service.

Used by browser and end-to-end tests. Each instance has its own port, data dir and database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chat3d.settings import REPO_ROOT
from tests.support.servers import free_port, wait_for_port

BIN = Path(sys.executable).parent


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    tools = REPO_ROOT / ".tools" / "bin"  # bun (scripts/install_bun.py)
    env["PATH"] = f"{BIN}:{tools}:{env.get('PATH', '')}"
    env.update(REFLEX_USE_SYSTEM_BUN="1", REFLEX_TELEMETRY_ENABLED="false", PYTHONUNBUFFERED="1")
    return env


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


@dataclass
class RenderServiceProcess:
    """`python -m render_service` on a free port."""

    port: int = field(default_factory=free_port)
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    # The shared secret the app must send (RENDER_SERVICE_TOKEN); give the same value to the app.
    token: str = field(default_factory=lambda: os.urandom(16).hex())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> RenderServiceProcess:
        env = _base_env() | {"RENDER_HOST": "127.0.0.1", "RENDER_PORT": str(self.port),
                             "RENDER_SERVICE_TOKEN": self.token} | self.env_extra
        self.log_path = log_dir / f"render-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "render_service"], cwd=REPO_ROOT, env=env,
            stdout=self.log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, timeout=90)
        return self

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class AppProcess:
    """The Reflex app in production single-port mode, pointed at the given database and data dir."""

    data_dir: Path
    database_url: str
    render_url: str
    render_token: str = ""  # the render service's RENDER_SERVICE_TOKEN
    port: int = field(default_factory=free_port)
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 420) -> AppProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = _base_env() | {
            "PORT": str(self.port),
            "DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            "RENDER_SERVICE_URL": self.render_url,
            "RENDER_SERVICE_TOKEN": self.render_token,
            "CHAT3D_ENV": "development",
        } | self.env_extra
        log = (self.data_dir / "app.log").open("w")
        # scripts/dev.sh itself (what `make dev` runs), with the render service given by RENDER_SERVICE_URL.
        self.proc = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts" / "dev.sh")],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{(self.data_dir / 'app.log').read_text(encoding='utf-8')[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200 and \
                        httpx.get(f"{self.url}/", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"the app did not come up in {timeout}s:\n{(self.data_dir / 'app.log').read_text(encoding='utf-8')[-4000:]}")

    def stop(self) -> None:
        _stop(self.proc)

"""Shared helpers for the render-service tests (unique module name: avoids clashing conftests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from render_service.protocol import RESULT_MEDIA_TYPE, decode_result

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHAT3D_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "render-corpus"
SECRET_VALUE = "s3cr3t-" + os.urandom(6).hex()


def answer(r: httpx.Response) -> dict:
    """A /render answer as one dict: a success decoded by the protocol's own reader (its files as
    {"format", "filename", "size", "data"}), any other answer its JSON."""
    if r.status_code == 200 and r.headers.get("content-type", "").startswith(RESULT_MEDIA_TYPE):
        res = decode_result(r.content)
        return {"ok": True, "metrics": res.metrics, "log": res.log,
                "files": [{"format": f.format, "filename": f.filename, "size": len(f.data), "data": f.data}
                          for f in res.files]}
    return r.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    url: str
    proc: subprocess.Popen
    log_path: Path
    secret_file: Path
    token: str = ""

    def client(self, timeout: float = 120.0) -> httpx.Client:
        """A client that authenticates as the app does (RENDER_SERVICE_TOKEN), when the service has a token."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace", encoding="utf-8")

    @property
    def jobs_dir(self) -> Path:
        """Where the zygote makes one folder per worker (RENDER_WORK_DIR/jobs, see _start)."""
        return self.log_path.with_name(self.log_path.stem + "-work") / "jobs"


def _start(name: str, tmp: Path, prefix: tuple[str, ...] = (), **env_overrides: str) -> Service:
    """Start `python -m render_service` (after `prefix`, e.g. an `unshare` command) and wait until healthy."""
    port = free_port()
    secret_file = tmp / f"{name}-root-only-secret.txt"
    secret_file.write_text(f"ROOT-ONLY-{SECRET_VALUE}\n", encoding="utf-8")
    os.chmod(secret_file, 0o600)
    env = dict(os.environ)
    env.update(
        RENDER_HOST="127.0.0.1",
        RENDER_PORT=str(port),
        RENDER_POOL_SIZE="2",
        CHAT3D_TEST_SECRET=SECRET_VALUE,
        RENDER_WORK_DIR=str(tmp / f"{name}-work"),
        RENDER_SERVICE_TOKEN=os.urandom(16).hex(),
    )
    env.update(env_overrides)
    log_path = tmp / f"{name}.log"
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "render_service"],
        cwd=REPO,
        env=env,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"render service {name} exited:\n{log_path.read_text(encoding='utf-8')}")
        try:
            r = httpx.get(url + "/health", timeout=2)
            if r.status_code == 200 and r.json()["workers_ready"] >= 1:
                return Service(url, proc, log_path, secret_file, env["RENDER_SERVICE_TOKEN"])
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"render service {name} did not become healthy:\n{log_path.read_text(encoding='utf-8')}")


def _stop(svc: Service) -> None:
    if svc.proc.poll() is None:
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(15)
        except subprocess.TimeoutExpired:
            svc.proc.kill()
            svc.proc.wait()



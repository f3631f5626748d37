"""A real app worker for the event tests and the SSE benchmark: uvicorn serving `create_api()`.

`app()` is a uvicorn factory: the FastAPI app plus a lifespan that runs the event bus, as the app's
bootstrap will. With CHAT3D_TEST_HOOKS=1 it also answers two test-only routes (never in the product):
`POST /__test/publish` records an event *inside this process* (so its after-commit publish is what
another process must receive) and `GET /__test/bus` reports the bus state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chat3d.settings import REPO_ROOT
from tests.support.servers import free_port


def app():
    from fastapi import Body

    from chat3d.api import create_api
    from chat3d.bootstrap import freeze_startup_heap
    from chat3d.db.engine import session_scope
    from chat3d.events import store
    from chat3d.events.bus import get_bus, start_event_bus, stop_event_bus

    api = create_api()

    @asynccontextmanager
    async def lifespan(_app):
        await start_event_bus()
        freeze_startup_heap()
        try:
            yield
        finally:
            await stop_event_bus()

    api.router.lifespan_context = lifespan

    if os.environ.get("CHAT3D_TEST_HOOKS") == "1":

        def publish(body: dict = Body(...)) -> dict:
            with session_scope() as session:
                row = store.record_event(session, uuid.UUID(body["userId"]), body["type"], body.get("payload") or {})
                event_id = row.id
            return {"id": event_id}

        gc_pauses = _watch_gc()

        def bus_state() -> dict:
            bus = get_bus()
            import gc

            return {"live": bus.live, "listeners": bus.listener_count(), **bus.stats,
                    "gc": {**gc_pauses, "tracked_objects": len(gc.get_objects()), "frozen": gc.get_freeze_count()}}

        api.router.routes.insert(0, _route("/__test/publish", publish, ["POST"]))
        api.router.routes.insert(0, _route("/__test/bus", bus_state, ["GET"]))
    return api


def _watch_gc() -> dict:
    """Count this process's garbage-collector passes per generation and their longest pause (ms)."""
    import gc

    stats: dict = {"passes": [0, 0, 0], "max_pause_ms": [0.0, 0.0, 0.0], "total_ms": [0.0, 0.0, 0.0]}
    started: dict[str, float] = {}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
            return
        gen, pause = info["generation"], (time.perf_counter() - started.get("t", time.perf_counter())) * 1e3
        stats["passes"][gen] += 1
        stats["total_ms"][gen] = round(stats["total_ms"][gen] + pause, 2)
        stats["max_pause_ms"][gen] = round(max(stats["max_pause_ms"][gen], pause), 2)

    gc.callbacks.append(callback)
    return stats


def _route(path, endpoint, methods):
    from fastapi.routing import APIRoute

    return APIRoute(path, endpoint, methods=methods)


@dataclass
class ApiServer:
    """`uvicorn` (or `granian`) serving `tests.events.appserver:app()` on a free port with the given environment."""

    env_extra: dict[str, str]
    port: int = field(default_factory=free_port)
    server: str = "uvicorn"  # or "granian", the server Reflex runs the app's backend on in production
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path, timeout: float = 60) -> ApiServer:
        env = dict(os.environ) | {"CHAT3D_ENV": "test", "PYTHONUNBUFFERED": "1", "CHAT3D_TEST_HOOKS": "1"} | self.env_extra
        self.log_path = log_dir / f"api-{self.port}.log"
        if self.server == "granian":
            command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1",
                       "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                       "tests.events.appserver:app"]
        else:
            command = [sys.executable, "-m", "uvicorn", "--factory", "tests.events.appserver:app", "--host", "127.0.0.1",
                       "--port", str(self.port), "--log-level", "warning", "--timeout-graceful-shutdown", "3"]
        self.proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT, env=env, stdout=self.log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API server exited early:\n{self.log_path.read_text(encoding='utf-8')[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the API server did not come up:\n{self.log_path.read_text(encoding='utf-8')[-4000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

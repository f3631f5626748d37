"""The render service is killed (SIGKILL, whole process group) while it renders a query's program.

The query must fail with a clear, retryable message in the chat (never hang in "rendering"), and Retry
(`POST /api/query/regenerate`) must work once the service is back on the same address.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from chat3d.api import create_api
from chat3d.pipeline.jobs import set_jobs
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD
from tests.support import scripted_llm
from tests.support.app_process import RenderServiceProcess

# Several seconds of pure Python inside the sandbox (the sandbox allows no `time` module).
SLOW = "from build123d import *\nx = 0\nfor i in range(80_000_000):\n    x += i\nresult = Box(10, 10, 10)\n"
FAST = "from build123d import *\nresult = Box(12, 10, 4)\n"


def _wait(api: TestClient, qid: str, headers, states: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    body = {}
    while time.monotonic() < deadline:
        body = api.get(f"/api/query/{qid}", headers=headers).json()
        if body["state"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"query {qid} never reached {states}: {body}")


@pytest.fixture
def render(tmp_path):
    svc = RenderServiceProcess().start(tmp_path)
    yield svc
    svc.stop()


def test_render_killed_mid_job_fails_clearly_and_retry_works_after_restart(
        accounts_env, make_user, render, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RENDER_SERVICE_URL", render.url)
    monkeypatch.setenv("RENDER_SERVICE_TOKEN", render.token)
    provider = scripted_llm.ScriptedProvider()
    scripted_llm.install(monkeypatch, provider)
    reset_settings_cache()
    provider.conversation += [scripted_llm.tool_reply("a small block") for _ in range(2)]
    provider.codegen += [scripted_llm.code_reply(SLOW), scripted_llm.code_reply(FAST)]
    make_user("maker@example.com")
    set_jobs(None)
    restarted: list[RenderServiceProcess] = []
    try:
        with TestClient(create_api()) as api:
            token = api.post("/api/auth/login", json={"email": "maker@example.com", "password": PASSWORD}).json()["token"]
            api.cookies.clear()
            h = {"Authorization": f"Bearer {token}"}
            cid = api.post("/api/chat/contexts", json={}, headers=h).json()["id"]
            sub = api.post("/api/query/submit", json={"contextId": cid, "prompt": "a 10 mm cube"}, headers=h).json()

            _wait(api, sub["queryId"], h, {"rendering"}, timeout=60)
            time.sleep(0.5)  # the program is running in a sandboxed child now
            os.killpg(render.proc.pid, signal.SIGKILL)
            render.proc.wait(10)
            killed_at = time.monotonic()

            failed = _wait(api, sub["queryId"], h, {"completed", "failed", "cancelled"}, timeout=30)
            assert failed["state"] == "failed", failed
            assert "render service" in failed["detail"] and "try again" in failed["detail"], failed["detail"]
            assert time.monotonic() - killed_at < 10, "the failure took too long to show"
            items = api.get(f"/api/chat/contexts/{cid}/items", headers=h).json()["items"]
            error = next(s for s in items[-1]["segments"] if s["type"] == "error")
            assert error["kind"] == "render_unavailable" and error["retryable"] is True

            # Back on the same address; Retry regenerates the answer.
            restarted.append(RenderServiceProcess(port=render.port, token=render.token).start(tmp_path))  # the same address
            retry = api.post("/api/query/regenerate", json={"assistantItemId": sub["assistantItemId"]}, headers=h)
            assert retry.status_code == 202, retry.text
            done = _wait(api, retry.json()["queryId"], h, {"completed", "failed", "cancelled"}, timeout=90)
            assert done["state"] == "completed", done
            items = api.get(f"/api/chat/contexts/{cid}/items", headers=h).json()["items"]
            model = next(s for s in items[-1]["segments"] if s["type"] == "model")
            assert model["metrics"]["bbox_size_mm"] == pytest.approx([12, 10, 4], abs=0.01)
    finally:
        set_jobs(None)
        for svc in restarted:
            svc.stop()

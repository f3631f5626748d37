"""Queries survive their worker: SAQ workers on Redis take jobs, and a killed worker's query is resumed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import uvicorn

from chat3d.db.engine import session_scope
from chat3d.db.models import Query, User
from chat3d.domain import chats
from chat3d.pipeline import queries
from chat3d.pipeline.jobs import SaqJobs
from chat3d.settings import REPO_ROOT, reset_settings_cache
from tests.llm.llm_fakes import FakeLLMServer, Reply, sse
from tests.support.servers import free_port, wait_for_port


def _openai_text(text: str, delay_s: float = 0.0) -> Reply:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4.1-mini",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
    end = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4.1-mini",
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    return Reply(chunks=sse(chunk, end, done=True), delay_s=delay_s)


class FakeOpenAI:
    """A fake OpenAI endpoint on a fixed port that can be replaced by a fresh one (same address)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.fake: FakeLLMServer | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, *replies: Reply) -> FakeLLMServer:
        self.fake = FakeLLMServer()
        self.fake.queue(*replies)
        self._server = uvicorn.Server(uvicorn.Config(self.fake.app(), host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port)
        return self.fake

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._thread.join(10)
            self._server = None


@pytest.fixture
def fake_openai():
    endpoint = FakeOpenAI()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def redis_env(pipeline_env, redis_url, fake_openai, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("QUERY_LEASE_S", "6")
    monkeypatch.setenv("QUERY_SWEEP_INTERVAL_S", "1")
    reset_settings_cache()
    return fake_openai


def _start_worker(tmp_path, name: str) -> subprocess.Popen:
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "chat3d.worker"], cwd=REPO_ROOT, env=dict(os.environ),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _submit(prompt: str, model: str | None = None) -> Query:
    with session_scope() as s:
        user = User(email=f"{prompt[:5].replace(' ', '')}-{time.time_ns()}@example.com")
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id)
        return queries.submit_query(s, user.id, ctx.id, prompt, conversation_model_id=model).query


def _wait(query_id, states: set[str], timeout: float) -> Query:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as s:
            q = s.get(Query, query_id)
            if q.state in states:
                return q
        time.sleep(0.2)
    raise AssertionError(f"query {query_id} never reached {states}; it is {q.state}: {q.detail}")


async def _enqueue(redis_url: str, query_id) -> None:
    jobs = SaqJobs(redis_url)
    await jobs.enqueue(query_id)
    await jobs.close()


def test_worker_process_runs_queued_jobs_from_redis(redis_env, redis_url, tmp_path) -> None:
    worker = _start_worker(tmp_path, "worker")
    try:
        q = _submit("a 40 x 30 x 4 mm plate")
        asyncio.run(_enqueue(redis_url, q.id))
        done = _wait(q.id, {"completed", "failed"}, timeout=90)
        assert done.state == "completed", (done.detail, (tmp_path / "worker.log").read_text(encoding="utf-8")[-3000:])
        assert done.worker_id and done.worker_id.endswith(f":{worker.pid}")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)


def test_killed_worker_query_completes_after_restart(redis_env, redis_url, tmp_path) -> None:
    endpoint = redis_env
    endpoint.start(_openai_text("Slow answer that never arrives", delay_s=60))
    first = _start_worker(tmp_path, "first")
    try:
        q = _submit("hello there", model="gpt-4.1-mini")
        asyncio.run(_enqueue(redis_url, q.id))
        _wait(q.id, {"conversation"}, timeout=60)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # dies mid-job: no clean-up, no final state
        first.wait(10)
    with session_scope() as s:
        assert s.get(Query, q.id).state == "conversation"
    endpoint.stop()
    fake = endpoint.start(_openai_text("What size should it be?"))

    second = _start_worker(tmp_path, "second")
    try:
        done = _wait(q.id, {"completed", "failed"}, timeout=90)
        assert done.state == "completed", (done.detail, [r.path for r in fake.received], len(fake.replies))
        assert done.attempts == 2 and done.worker_id.endswith(f":{second.pid}")
        with session_scope() as s:
            item = chats.get_item(s, done.owner_id, done.assistant_item_id)
            assert chats.text_of(item) == "What size should it be?"
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)

"""Fixtures for the LLM layer: a local fake server speaking the OpenAI, Anthropic and Ollama
wire protocols, and a process pool that renders build123d programs."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import uvicorn

import llm_render_worker
from llm_fakes import FakeLLMServer, free_port


@pytest.fixture(scope="session")
def fake_server_session():
    fake = FakeLLMServer()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def fake_server(fake_server_session):
    fake_server_session.reset()
    yield fake_server_session
    fake_server_session.reset()


@pytest.fixture(scope="session")
def render_pool():
    """Renders programs in parallel worker processes; each worker imports build123d once."""
    pool = ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn"), initializer=llm_render_worker.warm_up
    )
    yield pool
    pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def render(render_pool):
    def render_all(codes: list[str]) -> list[dict]:
        return list(render_pool.map(llm_render_worker.measure, codes, timeout=170))

    return render_all

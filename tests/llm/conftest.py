"""Fixtures for the LLM layer: a local fake server speaking the OpenAI, Anthropic and Ollama
wire protocols, and a process pool that renders build123d programs."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import llm_render_worker
import pytest
from llm_fakes import FakeLLMServer, serving


@pytest.fixture(scope="session")
def fake_server_session():
    with serving(FakeLLMServer()) as fake:
        yield fake


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

"""Issue 25: a stored query goes to a job only once its transaction commits, never for a rollback, whether it was
stored on the app's event loop (a page's state) or in a worker thread of it (a sync REST route)."""

from __future__ import annotations

import asyncio
import uuid

import anyio.to_thread
import pytest

from chat3d.db.engine import session_scope
from chat3d.pipeline.jobs import enqueue_after_commit, set_jobs


class RecordingJobs:
    def __init__(self) -> None:
        self.enqueued: list[uuid.UUID] = []

    async def enqueue(self, query_id: uuid.UUID) -> None:
        self.enqueued.append(query_id)


@pytest.fixture
def jobs(app_env):
    recording = RecordingJobs()
    set_jobs(recording)  # type: ignore[arg-type]
    yield recording
    set_jobs(None)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_on_the_loop_the_job_starts_after_the_commit_only(jobs) -> None:
    committed, rolled_back = uuid.uuid4(), uuid.uuid4()
    with session_scope() as s:
        enqueue_after_commit(s, committed)
        s.flush()
        await _settle()
        assert jobs.enqueued == []  # not before the commit
    await _settle()
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            enqueue_after_commit(s, rolled_back)
            raise RuntimeError("the transaction fails")
    await _settle()
    assert jobs.enqueued == [committed]


async def test_from_a_worker_thread_the_job_starts_on_the_loop(jobs) -> None:
    query_id = uuid.uuid4()

    def route() -> None:  # what a sync FastAPI route and its session dependency do, in anyio's worker threads
        with session_scope() as s:
            enqueue_after_commit(s, query_id)

    await anyio.to_thread.run_sync(route)
    await _settle()
    assert jobs.enqueued == [query_id]

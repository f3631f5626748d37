"""Where queries run: in-process tasks on the embedded default, SAQ workers on Redis when scaled out.

Either way the `queries` table is the source of truth. A job carries only the query id; the runner
claims the row with a lease, extends it at every step, and the sweeper re-runs (or fails, with a retry
offer) any active query whose lease expired — so a crashed worker never leaves a query "running".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio.from_thread
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from chat3d.db.engine import session_scope
from chat3d.db.models import ACTIVE_STATES, Query, QueryState, utcnow
from chat3d.domain import segments
from chat3d.pipeline.queries import finish, requeue
from chat3d.pipeline.runner import QueryRunner
from chat3d.settings import get_settings

if TYPE_CHECKING:
    from saq.types import Context

log = logging.getLogger("chat3d.jobs")
QUEUE_NAME = "chat3d-queries"
STALE_QUEUED_S = 30.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class InProcessJobs:
    """Runs queries as asyncio tasks in this process, at most `concurrency` at a time."""

    def __init__(self, concurrency: int, runner: QueryRunner | None = None):
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: dict[uuid.UUID, asyncio.Task] = {}
        self._runner = runner or QueryRunner(worker_id=worker_id())

    async def enqueue(self, query_id: uuid.UUID) -> None:
        if query_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(query_id))
        self._tasks[query_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(query_id, None))

    async def _run(self, query_id: uuid.UUID) -> None:
        async with self._sem:
            await self._runner.run(query_id)

    async def cancel(self, query_id: uuid.UUID) -> None:
        task = self._tasks.get(query_id)
        if task is not None:
            task.cancel()

    def running(self) -> set[uuid.UUID]:
        return set(self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()


class SaqJobs:
    """Enqueues query jobs on Redis for `python -m chat3d.worker` processes (SAQ)."""

    def __init__(self, redis_url: str):
        from saq import Queue

        self.queue = Queue.from_url(redis_url, name=QUEUE_NAME)
        self._connected = False

    async def connect(self) -> None:
        if not self._connected:
            await self.queue.connect()
            self._connected = True

    async def enqueue(self, query_id: uuid.UUID) -> None:
        await self.connect()
        settings = get_settings()
        await self.queue.enqueue(
            "run_query",
            query_id=str(query_id),
            key=f"query:{query_id}:{uuid.uuid4().hex[:8]}",
            # No SAQ retries: a dead worker's query is resumed by the sweeper, which owns attempt counting.
            timeout=int(settings.query_lease_s * 4),
            retries=0,
        )

    async def cancel(self, query_id: uuid.UUID) -> None:
        """The runner sees the cancelled state at its next step; nothing to interrupt from here."""

    def running(self) -> set[uuid.UUID]:
        return set()

    async def close(self) -> None:
        if self._connected:
            await self.queue.disconnect()


_jobs: InProcessJobs | SaqJobs | None = None


def get_jobs() -> InProcessJobs | SaqJobs:
    global _jobs
    if _jobs is None:
        settings = get_settings()
        _jobs = SaqJobs(settings.redis_url) if settings.redis_url else InProcessJobs(settings.pipeline_concurrency)
    return _jobs


def set_jobs(jobs: InProcessJobs | SaqJobs | None) -> None:
    """Tests and workers install their own dispatcher."""
    global _jobs
    _jobs = jobs


# --- handing a stored query to a job ---------------------------------------------------------

_PENDING_KEY = "chat3d.jobs.enqueue_after_commit"
_starting: set[asyncio.Future | concurrent.futures.Future] = (
    set()
)  # enqueues under way (a task nobody holds could be collected)


def _app_loop() -> asyncio.AbstractEventLoop:
    """The event loop jobs live on: this thread's, or, from a worker thread of it (a sync FastAPI route), its
    owner's."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return anyio.from_thread.run_sync(asyncio.get_running_loop)


def enqueue_after_commit(session: OrmSession, query_id: uuid.UUID) -> None:
    """Hand a query that `session` stored (submit_query, regenerate) to a job once the session commits, and
    never for a rollback: a job started earlier could look for a row that is not there yet. Call it from the
    app's event loop or a worker thread of it; the enqueue itself runs on that loop."""
    session.info.setdefault(_PENDING_KEY, []).append((query_id, _app_loop()))


async def _enqueue_logged(query_id: uuid.UUID) -> None:
    try:
        await get_jobs().enqueue(query_id)
    except Exception:  # the row is committed: the sweeper starts a query left queued (STALE_QUEUED_S)
        log.exception("could not enqueue query %s; the sweeper will start it", query_id)


@sa_event.listens_for(OrmSession, "after_commit")
def _enqueue_committed(session: OrmSession) -> None:
    pending: list[tuple[uuid.UUID, asyncio.AbstractEventLoop]] = session.info.pop(_PENDING_KEY, None) or []
    for query_id, loop in pending:
        if loop.is_closed():
            continue
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            started: asyncio.Future | concurrent.futures.Future = loop.create_task(_enqueue_logged(query_id))
        else:
            started = asyncio.run_coroutine_threadsafe(_enqueue_logged(query_id), loop)
        _starting.add(started)
        started.add_done_callback(_starting.discard)


@sa_event.listens_for(OrmSession, "after_rollback")
def _drop_uncommitted(session: OrmSession) -> None:
    session.info.pop(_PENDING_KEY, None)


# --- recovery --------------------------------------------------------------------------------


def orphaned_queries(session: Session, *, all_active: bool, exclude: set[uuid.UUID]) -> list[Query]:
    """Active queries nobody is working on: lease expired, or queued but never claimed."""
    now = utcnow()
    active: sa.ColumnElement[bool] = col(Query.state).in_([s.value for s in ACTIVE_STATES])
    if all_active:
        cond = active
    else:
        cond = sa.and_(
            active,
            sa.or_(
                col(Query.lease_expires_at) < now,
                sa.and_(
                    col(Query.lease_expires_at).is_(None),
                    col(Query.created_at) < now - timedelta(seconds=STALE_QUEUED_S),
                ),
            ),
        )
    rows = session.exec(
        select(Query).where(cond).order_by(col(Query.created_at)).with_for_update(skip_locked=True)
    ).all()
    return [q for q in rows if q.id not in exclude]


def recover_orphans(*, all_active: bool = False, exclude: set[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Fail orphans that used up their attempts (with a retry offer); return the ones to run again."""
    settings = get_settings()
    rerun: list[uuid.UUID] = []
    with session_scope() as session:
        for q in orphaned_queries(session, all_active=all_active, exclude=exclude or set()):
            if q.attempts >= settings.query_max_attempts:
                message = "This request was interrupted (the server restarted). Retry it."
                finish(
                    session,
                    q,
                    QueryState.failed,
                    message,
                    segments=[segments.error("interrupted", message, retryable=True)],
                )
            else:
                q.lease_expires_at = utcnow() + timedelta(seconds=settings.query_lease_s)
                requeue(session, q, "Resuming after an interruption")
                rerun.append(q.id)
    return rerun


async def sweep_forever(stop: asyncio.Event, *, first_all_active: bool = False) -> None:
    """Periodically resume or fail orphaned queries; the first sweep may claim all (single-process mode)."""
    interval_s = get_settings().query_sweep_interval_s
    first = True
    while not stop.is_set():
        jobs = get_jobs()
        try:
            ids = await asyncio.to_thread(
                recover_orphans, all_active=first and first_all_active, exclude=jobs.running()
            )
            for qid in ids:
                log.info("resuming query %s", qid)
                await jobs.enqueue(qid)
        except Exception:
            log.exception("query sweep failed")
        first = False
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            pass


async def saq_run_query(ctx: Context, *, query_id: str) -> None:
    """SAQ job function (see chat3d.worker)."""
    await QueryRunner(worker_id=worker_id()).run(uuid.UUID(query_id))

"""Periodic background jobs. For now: delivering the mail outbox.

`python -m chat3d.worker` runs them in their own process; on the embedded default the app's lifespan
runs the same `run_periodic_jobs` in-process. Each job is a loop that ends when `stop_event` is set.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.domain.outbox import CLAIM_BATCH, deliver_due_mail
from chat3d.settings import get_settings

log = logging.getLogger("chat3d.worker")


def _deliver_once() -> int:
    with Session(get_engine(), expire_on_commit=False) as session:
        return deliver_due_mail(session)


async def run_outbox_worker(stop_event: asyncio.Event) -> None:
    """Deliver due mail every few seconds; straight on while a full batch suggests more is waiting."""
    while not stop_event.is_set():
        try:
            attempted = await asyncio.to_thread(_deliver_once)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("outbox delivery round failed")
            attempted = 0
        if attempted >= CLAIM_BATCH:
            continue
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=get_settings().outbox_poll_interval_s)
        except TimeoutError:
            pass


async def run_query_worker(stop_event: asyncio.Event) -> None:
    """With Redis: run query jobs from the SAQ queue and resume queries whose worker died.

    Without Redis the app process runs queries itself (see chat3d.bootstrap), so this returns at once.
    """
    settings = get_settings()
    if not settings.redis_url:
        return
    from saq import Worker

    from chat3d.llm import anthropic_provider, ollama_provider, openai_provider  # noqa: F401  (import once, not mid-job)
    from chat3d.pipeline.jobs import SaqJobs, get_jobs, saq_run_query, sweep_forever

    jobs = get_jobs()
    assert isinstance(jobs, SaqJobs)
    await jobs.connect()
    worker = Worker(
        jobs.queue,
        functions=[("run_query", saq_run_query)],
        concurrency=settings.pipeline_concurrency,
        dequeue_timeout=1.0,
    )
    worker.SIGNALS = []  # this process's own handlers set stop_event
    running = asyncio.create_task(worker.start(), name="saq-worker")
    sweeper = asyncio.create_task(sweep_forever(stop_event), name="query-sweeper")
    await stop_event.wait()
    await worker.stop()
    for task in (running, sweeper):
        task.cancel()
    await asyncio.gather(running, sweeper, return_exceptions=True)
    await jobs.close()


from chat3d.domain.deletion import run_retention_jobs  # noqa: E402  (account deletion, expired exports)
from chat3d.domain.export import run_export_jobs  # noqa: E402  (confirmed data exports)
from chat3d.domain.retention import run_housekeeping_jobs  # noqa: E402  (old events, notifications, sessions, mail)
from chat3d.pipeline.evaluations import run_evaluation_jobs  # noqa: E402  (model evaluations started by an admin)

JOBS: list[Callable[[asyncio.Event], Awaitable[None]]] = [
    run_outbox_worker,
    run_query_worker,
    run_export_jobs,
    run_retention_jobs,
    run_housekeeping_jobs,
    run_evaluation_jobs,
]


async def run_periodic_jobs(stop_event: asyncio.Event) -> None:
    """Every periodic job until `stop_event` is set; what the app lifespan and the worker process run."""
    await asyncio.gather(*(job(stop_event) for job in JOBS))


async def _main() -> None:
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)
    log.info("worker started")
    await run_periodic_jobs(stop_event)
    log.info("worker stopped")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main())

"""What every app process does at start and stop: schema, first admin, event bus, background loops.

On the embedded default (no REDIS_URL) the app process also runs what the compose `worker` service runs
otherwise: mail delivery, query jobs and the sweeper that resumes interrupted queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from chat3d.db.migrate import upgrade_to_head
from chat3d.settings import get_settings

log = logging.getLogger("chat3d")


def prepare_database() -> None:
    """Bring the schema to head and seed the admin; safe to run in every process (idempotent)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.effective_storage_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head()
    from chat3d.domain.seed import seed_admin

    seed_admin()


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, compiled pages, settings) out of the collector's reach.

    Those objects live as long as the process, yet every full garbage collection walked them: with a
    thousand open event streams a full pass then stops the event loop for tens of milliseconds, which is
    what an event's worst-case delivery time pays. Frozen, a full pass walks only what came later.
    """
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def app_lifespan() -> AsyncIterator[None]:
    """Reflex lifespan task (the mounted FastAPI app's own startup hooks never run under Reflex)."""
    from chat3d.events.bus import start_event_bus, stop_event_bus
    from chat3d.pipeline.jobs import get_jobs, sweep_forever
    from chat3d.worker import run_periodic_jobs

    await asyncio.to_thread(prepare_database)
    await start_event_bus()
    freeze_startup_heap()
    stop = asyncio.Event()
    loops: list[asyncio.Task] = []
    if not get_settings().redis_url:
        loops.append(asyncio.create_task(run_periodic_jobs(stop), name="chat3d-periodic-jobs"))
        loops.append(asyncio.create_task(sweep_forever(stop, first_all_active=True), name="chat3d-query-sweeper"))
    try:
        yield
    finally:
        stop.set()
        await get_jobs().close()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await stop_event_bus()


if __name__ == "__main__":
    prepare_database()

"""One user's live event stream as an async iterator, independent of HTTP framing.

`user_event_stream` yields envelopes (dicts) in id order and `HEARTBEAT` markers. It is async all the
way: an idle stream is one coroutine waiting on its listener's flag, not a thread. Table reads run on a
small dedicated thread pool (`EVENTS_READ_THREADS`, default 8), which bounds how many database
connections streams use at once however many streams are open.

Algorithm: register the listener first, then resolve the starting cursor (Last-Event-ID, or "now" =
the user's newest id), then loop { read events_after(cursor) until exhausted; yield them; wait for a
wake-up or a timeout }. Because every delivery is that one query, replay and live delivery cannot
overlap or leave a gap, and an event that committed late with a lower id (impossible for one recipient,
see `store`) would still be picked up by the next read. The wait's timeout is the heartbeat interval
while the bus is live and the polling interval while it is not (Redis down); each heartbeat also
re-reads the table and re-checks access, so a revoked session's stream ends within one heartbeat.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.events import store
from chat3d.events.bus import EventBus, get_bus
from chat3d.events.types import ACCOUNT_STATUS_CHANGED
from chat3d.settings import get_settings

T = TypeVar("T")

HEARTBEAT = object()  # yielded when the stream should send a keep-alive comment


class StreamConfig:
    """Stream timings. `Settings` fields win when the integrator adds them (events_heartbeat_s, ...);
    until then the EVENTS_* environment variables below (tests shorten the heartbeat)."""

    def __init__(self) -> None:
        s = get_settings()
        self.heartbeat_s = float(getattr(s, "events_heartbeat_s", None) or os.environ.get("EVENTS_HEARTBEAT_S") or 15.0)
        self.poll_s = float(getattr(s, "events_poll_interval_s", None) or os.environ.get("EVENTS_POLL_INTERVAL_S") or 2.0)
        self.batch = int(getattr(s, "events_batch_size", None) or os.environ.get("EVENTS_BATCH_SIZE") or 500)


_executor: ThreadPoolExecutor | None = None


def _read_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        workers = int(getattr(get_settings(), "events_read_threads", None) or os.environ.get("EVENTS_READ_THREADS") or 8)
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chat3d-events")
    return _executor


async def run_db(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking database function on the bounded events pool."""
    return await asyncio.get_running_loop().run_in_executor(_read_executor(), fn, *args)


def _with_session(fn: Callable[..., T], *args: Any) -> T:
    with Session(get_engine()) as session:
        return fn(session, *args)


async def read_db(fn: Callable[..., T], *args: Any) -> T:
    """`fn(session, *args)` in a short-lived session on the events pool."""
    return await run_db(_with_session, fn, *args)


async def resolve_start(user_id: uuid.UUID, last_event_id: int | None) -> int:
    """The cursor a new stream starts after: the client's Last-Event-ID, else the user's newest id."""
    if last_event_id is not None:
        return max(0, int(last_event_id))
    return await read_db(store.latest_event_id, user_id)


async def user_event_stream(
    user_id: uuid.UUID,
    last_event_id: int | None,
    *,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    bus: EventBus | None = None,
    config: StreamConfig | None = None,
) -> AsyncIterator[Any]:
    """Yield the user's events after `last_event_id` (or from now), then live ones, with heartbeats.

    `still_allowed` is awaited every heartbeat and after an `account.status.changed` event; when it
    answers False the stream ends (revoked session, deactivated user).
    """
    bus = bus or get_bus()
    config = config or StreamConfig()
    listener = bus.listen(user_id)  # before resolving the cursor, so no wake-up can fall in between
    try:
        cursor = await resolve_start(user_id, last_event_id)
        next_heartbeat = time.monotonic() + config.heartbeat_s
        must_read = True
        while not listener.closed:
            if must_read:
                listener.resync = False
                recheck = False
                while True:
                    batch = await read_db(store.events_after, user_id, cursor, config.batch)
                    for item in batch:
                        cursor = item["id"]
                        if item["type"] == ACCOUNT_STATUS_CHANGED:
                            recheck = True
                        yield item
                    if len(batch) < config.batch:
                        break
                if recheck and still_allowed is not None and not await still_allowed():
                    return
            now = time.monotonic()
            if now >= next_heartbeat:
                if still_allowed is not None and not await still_allowed():
                    return
                yield HEARTBEAT
                next_heartbeat = time.monotonic() + config.heartbeat_s
                must_read = True  # safety net: a wake-up lost anywhere costs at most one heartbeat
                continue
            timeout = next_heartbeat - now
            if not bus.live:
                timeout = min(timeout, config.poll_s)
            woke = await listener.wait(timeout)
            must_read = listener.wants_read(cursor) or (not woke and not bus.live)
    finally:
        bus.unlisten(listener)

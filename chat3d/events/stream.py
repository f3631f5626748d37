"""One user's live event stream as an async iterator, independent of HTTP framing.

`user_event_stream` yields one `Ready(cursor)`, then envelopes (dicts) in id order and `HEARTBEAT`
markers. It is async all the way: an idle stream is one coroutine waiting on its listener's flag, not a
thread. Table reads run on a small dedicated thread pool (`EVENTS_READ_THREADS`, default 8), which bounds how many database
connections streams use at once however many streams are open.

Algorithm: register the listener first, then resolve the starting cursor (Last-Event-ID, or "now" =
the user's newest id), then loop { read events_after(cursor) until exhausted; yield them; wait for a
message or a timeout; send the messages' envelopes that chain from the cursor (each names its
predecessor); read the table if anything announced is still beyond the cursor }. An envelope is sent
from a message only when its predecessor is exactly the last event sent, so replay and live delivery
cannot overlap or leave a gap, and an event that committed late with a lower id (impossible for one
recipient, see `store`) would still be picked up by the next read. Most live events then cost no table
read at all; the read is the fallback after a gap, a reconnect, a heartbeat or a crossed message. The wait's timeout is the heartbeat interval
while the bus is live and the polling interval while it is not (Redis down); each heartbeat also
re-reads the table and re-checks access, so a revoked session's stream ends within one heartbeat (at once on
the `account.session.revoked` event naming it). A re-check that cannot answer holds delivery until one does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.events import store
from chat3d.events.bus import EventBus, get_bus
from chat3d.events.types import ACCOUNT_STATUS_CHANGED, SESSION_REVOKED
from chat3d.settings import get_settings

T = TypeVar("T")
log = logging.getLogger("chat3d.events.stream")

HEARTBEAT = object()  # yielded when the stream should send a keep-alive comment


@dataclass(frozen=True)
class Ready:
    """Yielded once, when the starting cursor is known and the stream is live. `cursor` is the id the stream
    continues after: sent as the first frame's `id:`, so a browser that reconnects before any event arrived
    resends it as Last-Event-ID and misses nothing."""

    cursor: int


class StreamConfig:
    """Stream timings from the settings (EVENTS_HEARTBEAT_S etc.; tests shorten the heartbeat)."""

    def __init__(self) -> None:
        s = get_settings()
        self.heartbeat_s = s.events_heartbeat_s
        self.poll_s = s.events_poll_interval_s
        self.batch = s.events_batch_size


_executor: ThreadPoolExecutor | None = None
_local = threading.local()


def _read_threads() -> int:
    return get_settings().events_read_threads


def _read_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_read_threads(), thread_name_prefix="chat3d-events")
    return _executor


async def run_db(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking database function on the bounded events pool."""
    return await asyncio.get_running_loop().run_in_executor(_read_executor(), fn, *args)


_check_executor: ThreadPoolExecutor | None = None


async def run_check(fn: Callable[..., T], *args: Any) -> T:
    """Run a stream's access re-check (token, account) on its own 2 threads.

    Kept apart from the read pool: a thousand streams re-checking at their heartbeat must never make
    event delivery queue behind them.
    """
    global _check_executor
    if _check_executor is None:
        _check_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chat3d-events-auth")
    return await asyncio.get_running_loop().run_in_executor(_check_executor, fn, *args)


@functools.lru_cache(maxsize=4)
def _reader_engine(url: str) -> sa.Engine:
    """Stream reads on PostgreSQL: autocommit connections, one held per reader thread.

    A read is then ONE round trip (no BEGIN/ROLLBACK, no pre-ping on checkout), and the readers never
    compete with requests for the app's pool: at most `EVENTS_READ_THREADS` connections, whatever the
    number of open streams.
    """
    return sa.create_engine(
        url,
        pool_size=_read_threads(),
        max_overflow=2,
        pool_timeout=10,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )


def _with_reader(fn: Callable[..., T], *args: Any) -> T:
    url = get_settings().effective_database_url
    if not url.startswith("postgresql"):
        with Session(get_engine()) as session:
            return fn(session, *args)
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
        if conn is None or conn.closed or getattr(_local, "url", None) != url:
            if conn is not None:
                _close_quietly(conn)
            conn = _local.conn = _reader_engine(url).connect()
            _local.url = url
        try:
            return fn(conn, *args)
        except sa.exc.DBAPIError as exc:
            _local.conn = None
            if exc.connection_invalidated:
                conn.invalidate()
            _close_quietly(conn)
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _close_quietly(conn: sa.Connection) -> None:
    try:
        conn.close()
    except Exception:
        pass


async def read_db(fn: Callable[..., T], *args: Any) -> T:
    """`fn(session_or_connection, *args)` on the events pool: a read-only store function."""
    return await run_db(_with_reader, fn, *args)


class BatchReader:
    """Coalesces the table reads of many streams into one query (`store.events_after_many`).

    At most `parallel` queries run at once; a stream woken while they are busy joins the next batch.
    So an idle system answers a single read at once, and a busy one amortises one round trip and one
    thread hand-off over every stream woken meanwhile instead of queueing a read per stream.
    """

    def __init__(self, parallel: int, max_batch: int = 256):
        self.parallel = parallel
        self.max_batch = max_batch
        self._pending: list[tuple[uuid.UUID, int, int, asyncio.Future]] = []
        self._running = 0
        self.stats = {"queries": 0, "reads": 0}

    async def read(self, user_id: uuid.UUID, cursor: int, limit: int) -> list[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((user_id, cursor, limit, future))
        if self._running < self.parallel:
            self._running += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                limit = max(r[2] for r in batch)
                self.stats["queries"] += 1
                self.stats["reads"] += len(batch)
                try:
                    results = await run_db(
                        _with_reader, store.events_after_many, [(u, c) for u, c, _, _ in batch], limit
                    )
                except BaseException as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("read cancelled"))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, _, lim, future), items in zip(batch, results):
                    if not future.done():
                        future.set_result(items[:lim])
        finally:
            self._running -= 1


_readers: dict[asyncio.AbstractEventLoop, BatchReader] = {}


def batch_reader() -> BatchReader:
    loop = asyncio.get_running_loop()
    reader = _readers.get(loop)
    if reader is None:
        for old in [lp for lp in _readers if lp.is_closed()]:
            del _readers[old]
        reader = _readers[loop] = BatchReader(parallel=max(1, _read_threads() // 2))
    return reader


class CheckBatcher:
    """Coalesces streams' access re-checks: one thread hand-off and one database session per batch.

    `check_many(list_of_args) -> list_of_bools` runs on the 2-thread check pool, one batch at a time;
    streams whose heartbeat falls while a batch runs join the next one, and a batch waits `gather_s` for
    more to arrive first: with 1,000 streams (~67 re-checks a second) that makes one batch of dozens instead
    of dozens of batches of one, whose ORM work in a thread would hold the GIL against event delivery.
    """

    def __init__(
        self, check_many: Callable[[list[tuple]], Sequence[bool | None]], max_batch: int = 200, gather_s: float = 0.5
    ):
        self.check_many = check_many
        self.max_batch = max_batch
        self.gather_s = gather_s
        self._pending: list[tuple[tuple, asyncio.Future]] = []
        self._running = False

    async def check(self, *args: Any) -> bool | None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((args, future))
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self.gather_s)
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    answers = await run_check(self.check_many, [a for a, _ in batch])
                except Exception:
                    log.exception("events: access re-check failed; streams hold delivery until one answers")
                    answers = [None] * len(batch)
                for (_, future), ok in zip(batch, answers):
                    if not future.done():
                        future.set_result(None if ok is None else bool(ok))
        finally:
            self._running = False


async def resolve_start(user_id: uuid.UUID, last_event_id: int | None) -> int:
    """The cursor a new stream starts after: the client's Last-Event-ID, else the user's newest id."""
    if last_event_id is not None:
        return max(0, int(last_event_id))
    return await read_db(store.latest_event_id, user_id)


HELD_RETRY_S = 0.25  # while a re-check could not answer, ask again this often (plus the batcher's gather)


def _close_if_refused(listener: Any, check: asyncio.Future) -> None:
    if check.cancelled() or check.exception() is not None:
        return
    if check.result() is False:
        listener.close()
    elif check.result() is None:
        listener.notify(None)  # wake the stream: it holds delivery until a check answers


def _unanswered(check: asyncio.Future | None) -> bool:
    """The heartbeat's re-check finished without an answer (database or Redis error)."""
    return bool(
        check is not None
        and check.done()
        and not check.cancelled()
        and check.exception() is None
        and check.result() is None
    )


async def _until_answered(still_allowed: Callable[[], Awaitable[bool | None]], listener: Any) -> bool:
    """Ask again until the check answers; nothing is delivered meanwhile, and an outage keeps the stream."""
    while not listener.closed:
        await asyncio.sleep(HELD_RETRY_S)
        answer = await still_allowed()
        if answer is not None:
            return answer
    return False


def _ends_session(item: dict[str, Any], session_jti: str | None) -> bool:
    if session_jti is None or item.get("type") != SESSION_REVOKED:
        return False
    payload = item.get("payload")
    return isinstance(payload, dict) and payload.get("jti") == session_jti


async def user_event_stream(
    user_id: uuid.UUID,
    last_event_id: int | None,
    *,
    still_allowed: Callable[[], Awaitable[bool | None]] | None = None,
    bus: EventBus | None = None,
    config: StreamConfig | None = None,
    session_jti: str | None = None,
) -> AsyncIterator[Any]:
    """Yield the user's events after `last_event_id` (or from now), then live ones, with heartbeats.

    `still_allowed` runs every heartbeat (beside the stream: the stream ends as soon as it answers False)
    and is awaited after an `account.status.changed` event; False ends the stream (revoked session,
    deactivated user). None means it could not tell (database locked or away): the stream then delivers
    nothing until a check answers, asking again every `HELD_RETRY_S`, and stays open meanwhile.
    An `account.session.revoked` event naming `session_jti` ends the stream at once (not delivered).
    """

    async def allowed_now(ask: Callable[[], Awaitable[bool | None]]) -> bool:  # ask: still_allowed, not None
        answer = await ask()
        if answer is None:
            answer = await _until_answered(ask, listener)
        return bool(answer)

    bus = bus or get_bus()
    config = config or StreamConfig()
    reader = batch_reader()
    listener = bus.listen(user_id)  # before resolving the cursor, so no wake-up can fall in between
    try:
        cursor = await resolve_start(user_id, last_event_id)
        yield Ready(cursor)
        # Spread heartbeats (and their session re-checks) over time: streams opened together, e.g. after a
        # deploy, would otherwise re-check in one burst every interval. Never later than the interval.
        next_heartbeat = time.monotonic() + config.heartbeat_s * random.uniform(0.5, 1.0)
        must_read = True
        read_failed = False
        check: asyncio.Future | None = None  # the heartbeat's access re-check, while it runs
        while not listener.closed:
            if _unanswered(check):
                check = None
                assert still_allowed is not None  # `check` is only ever the heartbeat's still_allowed()
                if not await _until_answered(still_allowed, listener):
                    return
                must_read = True
            for envelope in listener.take_broadcasts():  # ephemeral (no id): the cursor does not move
                yield envelope
            if must_read:
                listener.resync = False
                listener.drop_buffer()  # the read below returns everything buffered so far, and more
                recheck = False
                try:
                    held = False
                    while not held:
                        batch = await reader.read(user_id, cursor, config.batch)
                        for item in batch:
                            if _unanswered(check) or listener.closed:
                                held = True  # the loop's top holds or ends; the rest is read again after
                                break
                            if _ends_session(item, session_jti):
                                return
                            cursor = item["id"]
                            if item["type"] == ACCOUNT_STATUS_CHANGED:
                                recheck = True
                            yield item
                        if len(batch) < config.batch:
                            break
                    read_failed = False
                except sa.exc.SQLAlchemyError as exc:  # database away: keep the stream, retry on the poll interval
                    if not read_failed:
                        log.warning("events: stream read failed (%s); retrying every %.1fs", exc, config.poll_s)
                    read_failed = True
                if recheck and still_allowed is not None and not await allowed_now(still_allowed):
                    return
                if held:
                    continue
            now = time.monotonic()
            if now >= next_heartbeat:
                if still_allowed is not None and (check is None or check.done()):
                    # Re-checked beside the stream, not before it: delivery never waits for the batch;
                    # a refusal closes the listener, which ends the loop at once.
                    check = asyncio.ensure_future(still_allowed())
                    check.add_done_callback(functools.partial(_close_if_refused, listener))
                yield HEARTBEAT
                next_heartbeat = time.monotonic() + config.heartbeat_s * random.uniform(0.9, 1.0)
                must_read = True  # safety net: a wake-up lost anywhere costs at most one heartbeat
                continue
            polling = read_failed or not bus.live
            timeout = next_heartbeat - now
            if polling:
                timeout = min(timeout, config.poll_s)
            woke = await listener.wait(timeout)
            if woke and not listener.resync:
                # Up to date and the next events came with their predecessor: send them from the message.
                recheck = False
                for item in listener.take_direct(cursor):
                    if _unanswered(check) or listener.closed:
                        listener.resync = True  # held: read from the cursor once a check answers
                        break
                    if _ends_session(item, session_jti):
                        return
                    cursor = item["id"]
                    if item["type"] == ACCOUNT_STATUS_CHANGED:
                        recheck = True
                    yield item
                if recheck and still_allowed is not None and not await allowed_now(still_allowed):
                    return
            must_read = listener.wants_read(cursor) or (not woke and polling)
    finally:
        if check is not None and not check.done():
            check.cancel()
        bus.unlisten(listener)

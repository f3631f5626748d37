"""The event bus: committed events ("user U has event N, after event P") from writers to U's streams.

A message carries the event's envelope and its predecessor P, the recipient's previous event id
(`store.record_many`). A stream whose last delivered id is P sends the envelope as it is: nothing can
be missing in between. Any other stream (it missed a message, messages crossed, the payload did not
fit) reads `events_after(last_delivered_id)` from the table, which is the source of truth. So a lost,
duplicated or reordered message can delay an event but never lose, duplicate or reorder one.

Two modes, chosen by `settings.redis_url`:

* empty: in-process. `publish` wakes this process's listeners directly (from any thread).
* set: Redis pub/sub on one channel. `publish` wakes local listeners directly *and* PUBLISHes, and each
  process runs ONE subscriber task (started lazily, or by `start_event_bus()`) that hands messages to
  its local listeners. If Redis goes away the subscriber reconnects with capped exponential backoff;
  meanwhile `bus.live` is False and streams poll the table every `poll_interval_s`; on (re)connect every
  listener is woken to re-read, so anything published while the channel was down is delivered.

The same bus relays the ephemeral text of running queries (`publish_text` / `watch_text`, used by
`chat3d.pipeline.live`) on a second channel: never stored, so a missed message only means the page
shows the final text when the answer's event arrives.

Listeners coalesce: a listener is a flag, the highest event id announced so far and a short buffer of
envelopes, so five messages that arrive while its stream is busy cause one pass, not five.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession

from chat3d.settings import get_settings

log = logging.getLogger("chat3d.events.bus")

CHANNEL = "chat3d:events"
BROADCAST_CHANNEL = "chat3d:broadcast"  # ephemeral events for every open stream (public settings): `<envelope JSON>`
TEXT_CHANNEL = "chat3d:live-text"  # ephemeral text of running queries: `<query id>\n<text so far>`
MAX_TEXT_MESSAGE = 256 * 1024  # longer text is not relayed; the answer's final text arrives as an event
_PENDING_KEY = "chat3d.events.pending"
MAX_MESSAGE_PAYLOAD = 8192  # larger envelopes travel as a bare wake-up; the stream reads the table
_BUFFER = 64  # envelopes a listener keeps between two passes of its stream; beyond that it re-reads


class Announced:
    """One published event as a listener receives it: its envelope (or None) and its predecessor."""

    __slots__ = ("event_id", "prev_id", "envelope")

    def __init__(self, event_id: int, prev_id: int | None, envelope: dict[str, Any] | None):
        self.event_id = event_id
        self.prev_id = prev_id
        self.envelope = envelope


class Listener:
    """One stream's mailbox on one event loop: a coalescing wake-up flag and the highest hinted id."""

    __slots__ = ("user_id", "loop", "hint", "resync", "closed", "_flag", "_buffer", "_broadcasts")

    def __init__(self, user_id: uuid.UUID, loop: asyncio.AbstractEventLoop):
        self.user_id = user_id
        self.loop = loop
        self.hint = 0  # highest event id announced for this user
        self.resync = False  # re-read regardless of hint (bus reconnected, state changed)
        self.closed = False
        self._flag = asyncio.Event()
        self._buffer: list[Announced] = []
        self._broadcasts: list[dict[str, Any]] = []

    def broadcast(self, envelope: dict[str, Any]) -> None:
        """Runs on the listener's loop: an ephemeral envelope for this stream (kept newest 20)."""
        self._broadcasts = (self._broadcasts + [envelope])[-20:]
        self._flag.set()

    def take_broadcasts(self) -> list[dict[str, Any]]:
        out, self._broadcasts = self._broadcasts, []
        return out

    def notify(self, event: Announced | None) -> None:
        """Runs on the listener's loop. `None` asks for a re-read (reconnect, mode change)."""
        if event is None:
            self.resync = True
        else:
            if event.event_id > self.hint:
                self.hint = event.event_id
            if event.envelope is not None and event.prev_id is not None:
                if len(self._buffer) < _BUFFER:
                    self._buffer.append(event)
                else:  # the stream is far behind: it will read the table anyway
                    self.resync = True
                    self._buffer.clear()
        self._flag.set()

    def take_direct(self, cursor: int) -> list[dict[str, Any]]:
        """Envelopes that follow `cursor` without a gap, in order; the buffer is emptied.

        Sorted by id first, so two messages that crossed on the way still chain. The chain stops at the
        first envelope whose predecessor is not the last one delivered: from there the stream reads
        the table (`wants_read` stays true because `hint` is beyond the new cursor).
        """
        if not self._buffer:
            return []
        events, self._buffer = sorted(self._buffer, key=lambda e: e.event_id), []
        out: list[dict[str, Any]] = []
        for event in events:
            if event.event_id <= cursor:
                continue  # delivered already (a duplicate, or read from the table)
            if event.prev_id != cursor:
                break
            assert event.envelope is not None  # `notify` buffers only events that carry an envelope
            out.append(event.envelope)
            cursor = event.event_id
        return out

    def drop_buffer(self) -> None:
        self._buffer.clear()

    def close(self) -> None:
        self.closed = True
        self._flag.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a wake-up (True) or the timeout (False); the flag is cleared before returning."""
        if not self._flag.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._flag.wait()
            except TimeoutError:
                return False
        self._flag.clear()
        return True

    def wants_read(self, last_id: int) -> bool:
        return self.resync or self.hint > last_id


class EventBus:
    """Per-process registry of listeners plus, with Redis, the publisher client and the one subscriber."""

    def __init__(self, redis_url: str = "", *, reconnect_max_s: float = 5.0):
        self.redis_url = redis_url
        self.reconnect_max_s = reconnect_max_s
        self._listeners: dict[uuid.UUID, set[Listener]] = {}
        self._text_watchers: dict[str, dict[asyncio.Queue[str], asyncio.AbstractEventLoop]] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task | None = None
        self._live = not redis_url
        self._sync_client: Any = None
        self._publish_paused_until = 0.0
        self._stopped = False
        self.stats = {"published": 0, "publish_failures": 0, "received": 0, "reconnects": 0}

    # --- state -----------------------------------------------------------------------------------------

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    @property
    def live(self) -> bool:
        """True when wake-ups flow (always in-process; with Redis while the subscriber is connected)."""
        return self._live

    def listener_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._listeners.values())

    # --- listeners -------------------------------------------------------------------------------------

    def listen(self, user_id: uuid.UUID) -> Listener:
        """Register a listener for `user_id` on the running loop (starts the Redis subscriber if needed)."""
        loop = asyncio.get_running_loop()
        listener = Listener(user_id, loop)
        with self._lock:
            self._listeners.setdefault(user_id, set()).add(listener)
        self._ensure_subscriber(loop)
        return listener

    def unlisten(self, listener: Listener) -> None:
        with self._lock:
            group = self._listeners.get(listener.user_id)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[listener.user_id]

    def _deliver(self, user_id: uuid.UUID, event: Announced | None) -> None:
        """Hand an event to this process's listeners for `user_id` (any thread)."""
        with self._lock:
            targets = list(self._listeners.get(user_id, ()))
        if targets:
            self._wake(targets, event)

    def wake_all(self) -> None:
        """Ask every local stream to re-read the table (after a reconnect, or when the mode changes)."""
        with self._lock:
            targets = [listener for group in self._listeners.values() for listener in group]
        self._wake(targets, None)

    @staticmethod
    def _wake(targets: list[Listener], event: Announced | None) -> None:
        current = _running_loop()
        for listener in targets:
            _call_on(listener.loop, current, listener.notify, event)

    # --- broadcasts (ephemeral: never stored, never replayed; a reconnecting page re-reads) --------------

    def publish_broadcast(self, envelope: dict[str, Any]) -> None:
        """Send an envelope (no id) to every open stream of every process. With Redis through the channel
        only (back to this process too); when Redis is unreachable, to this process's streams alone."""
        text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, default=str)
        if self.uses_redis and self._redis_publish(text, BROADCAST_CHANNEL):
            return
        self._deliver_broadcast(envelope)

    def _deliver_broadcast(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            targets = [listener for group in self._listeners.values() for listener in group]
        current = _running_loop()
        for listener in targets:
            _call_on(listener.loop, current, listener.broadcast, envelope)

    def _on_broadcast(self, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            return
        if isinstance(envelope, dict) and isinstance(envelope.get("type"), str):
            self._deliver_broadcast(envelope)

    # --- live text (ephemeral: never stored, never replayed) ---------------------------------------------

    def watch_text(self, query_id: str) -> asyncio.Queue[str]:
        """A queue holding the newest text of a running query, from whichever process runs it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        with self._lock:
            self._text_watchers.setdefault(query_id, {})[queue] = loop
        self._ensure_subscriber(loop)
        return queue

    def unwatch_text(self, query_id: str, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            group = self._text_watchers.get(query_id)
            if group is not None:
                group.pop(queue, None)
                if not group:
                    del self._text_watchers[query_id]

    def publish_text(self, query_id: str, text_so_far: str) -> None:
        """Relay a running query's text so far. With Redis it goes through the channel only (one ordered
        path, also back to this process); when Redis is unreachable, to this process's watchers alone."""
        if self.uses_redis and len(text_so_far) <= MAX_TEXT_MESSAGE:
            if self._redis_publish(f"{query_id}\n{text_so_far}", TEXT_CHANNEL):
                return
        self._deliver_text(query_id, text_so_far)

    def _deliver_text(self, query_id: str, text: str) -> None:
        with self._lock:
            targets = list(self._text_watchers.get(query_id, {}).items())
        current = _running_loop()
        for queue, loop in targets:
            _call_on(loop, current, _put_newest, queue, text)

    def _on_text(self, data: bytes | str) -> None:
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        query_id, sep, body = text.partition("\n")
        if sep:
            self._deliver_text(query_id, body)

    # --- publishing ------------------------------------------------------------------------------------

    def publish(
        self, user_id: uuid.UUID, event_id: int, *, envelope: dict[str, Any] | None = None, prev_id: int | None = None
    ) -> None:
        """Announce that `user_id` has committed event `event_id`. Sync, thread-safe, never raises.

        With `envelope` and `prev_id` (what `store.record_event` publishes) streams that are up to date
        deliver the event from the message; without them it is a bare wake-up and streams read the table.
        """
        user_id = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
        event_id = int(event_id)
        self.stats["published"] += 1
        text = ""
        if envelope is not None and prev_id is not None:
            try:
                text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
            except (TypeError, ValueError):
                text = ""
            if len(text) > MAX_MESSAGE_PAYLOAD:
                text = ""
        # Listeners get the envelope as the table will give it back (JSON round trip), and their own copy.
        if text and prev_id is not None:  # `text` is only ever set with a `prev_id`
            announced = Announced(event_id, int(prev_id), json.loads(text))
            message = f"{user_id.hex}:{event_id}:{int(prev_id)}:{text}"
        else:
            announced = Announced(event_id, None, None)
            message = f"{user_id.hex}:{event_id}"
        self._deliver(user_id, announced)
        if self.uses_redis:
            self._redis_publish(message)

    def _redis_publish(self, message: str, channel: str = CHANNEL) -> bool:
        # After a failure, skip Redis for a moment instead of blocking every commit on a dead server;
        # subscribers are polling the table meanwhile and resync on reconnect.
        if time.monotonic() < self._publish_paused_until:
            self.stats["publish_failures"] += 1
            return False
        try:
            self._client().publish(channel, message)
        except Exception as exc:  # redis.RedisError, OSError
            self.stats["publish_failures"] += 1
            self._publish_paused_until = time.monotonic() + 1.0
            log.warning("event bus: publish to Redis failed (%s); streams fall back to polling", exc)
            return False
        return True

    def _client(self) -> Any:
        if self._sync_client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # One retry without backoff: re-dials once when a pooled socket died with a Redis restart.
            self._sync_client = redis.Redis.from_url(
                self.redis_url, socket_connect_timeout=0.5, socket_timeout=1.0, retry=Retry(NoBackoff(), 1)
            )
        return self._sync_client

    # --- the subscriber --------------------------------------------------------------------------------

    def _ensure_subscriber(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.uses_redis or self._stopped:
            return
        task = self._task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            return
        self._task = loop.create_task(self._subscribe_forever(), name="chat3d-event-bus")

    async def start(self) -> None:
        self._stopped = False
        self._ensure_subscriber(asyncio.get_running_loop())

    async def stop(self) -> None:
        """Stop the subscriber and close every local stream (process shutdown)."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        with self._lock:
            targets = [listener for group in self._listeners.values() for listener in group]
        for listener in targets:
            if listener.loop is asyncio.get_running_loop():
                listener.close()
            elif not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener.close)
        if self._sync_client is not None:
            try:
                self._sync_client.close()
            except Exception:
                pass
            self._sync_client = None

    def _set_live(self, live: bool) -> None:
        if live != self._live:
            self._live = live
            log.info("event bus: Redis subscriber %s", "connected" if live else "disconnected; streams poll the table")
        # Either way every stream re-reads: on connect to catch what was published during the gap, on
        # disconnect so it switches to the polling interval at once.
        self.wake_all()

    def _on_message(self, data: bytes | str) -> None:
        """`<user hex>:<id>` (a bare wake-up) or `<user hex>:<id>:<prev id>:<envelope JSON>`."""
        try:
            text = data.decode() if isinstance(data, bytes) else data
            parts = text.split(":", 3)
            user_id, eid = uuid.UUID(hex=parts[0]), int(parts[1])
            event = Announced(eid, None, None)
            if len(parts) == 4:
                env = json.loads(parts[3])
                if not isinstance(env, dict) or env.get("id") != eid:
                    raise ValueError("envelope does not match its id")
                event = Announced(eid, int(parts[2]), env)
        except (ValueError, AttributeError, IndexError):
            log.warning("event bus: ignoring malformed message %.200r", data)
            return
        self.stats["received"] += 1
        self._deliver(user_id, event)

    async def _subscribe_forever(self) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        backoff = 0.1
        first = True
        while True:
            client = aioredis.Redis.from_url(
                self.redis_url, socket_connect_timeout=2.0, health_check_interval=10, retry=Retry(NoBackoff(), 0)
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL, TEXT_CHANNEL, BROADCAST_CHANNEL)
                if not first:
                    self.stats["reconnects"] += 1
                first = False
                self._set_live(True)
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        if message.get("channel") in (TEXT_CHANNEL, TEXT_CHANNEL.encode()):
                            self._on_text(message["data"])
                        elif message.get("channel") in (BROADCAST_CHANNEL, BROADCAST_CHANNEL.encode()):
                            self._on_broadcast(message["data"])
                        else:
                            self._on_message(message["data"])
            except asyncio.CancelledError:
                self._live = False
                raise
            except Exception as exc:
                if self._live:
                    log.warning("event bus: Redis subscription lost (%s); reconnecting", exc)
                self._set_live(False)
            finally:
                for closer in (pubsub.aclose, client.aclose):
                    try:
                        await asyncio.wait_for(closer(), 1.0)
                    except BaseException:
                        pass
            await asyncio.sleep(backoff * (1 + random.random() / 2))
            backoff = min(backoff * 2, self.reconnect_max_s)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _call_on(loop: asyncio.AbstractEventLoop, current: asyncio.AbstractEventLoop | None, fn: Any, *args: Any) -> None:
    """Run `fn(*args)` on `loop`: now when that is the running loop, else thread-safely; a closed loop is skipped."""
    if loop is current:
        fn(*args)
    elif not loop.is_closed():
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed between the check and the call
            pass


def _put_newest(queue: asyncio.Queue[str], text: str) -> None:
    """Keep only the newest text: a slow page skips intermediate states, never shows an old one last."""
    if queue.full():
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
    queue.put_nowait(text)


# --- the process's bus ---------------------------------------------------------------------------------

_bus: EventBus | None = None
_bus_lock = threading.Lock()


def get_bus() -> EventBus:
    """This process's bus for the configured REDIS_URL (a new one if the setting changed, as in tests)."""
    global _bus
    url = get_settings().redis_url
    with _bus_lock:
        if _bus is None or _bus.redis_url != url:
            _bus = EventBus(url)
        return _bus


async def start_event_bus() -> None:
    """App lifespan start: run this process's Redis subscriber now rather than on the first stream."""
    await get_bus().start()


async def stop_event_bus() -> None:
    """App lifespan stop: stop the subscriber, end open streams, close the Redis client."""
    bus = _bus
    if bus is not None:
        await bus.stop()


def publish(user_id: uuid.UUID, event_id: int) -> None:
    """Sync wake-up for a committed event (worker threads, scripts). Prefer `publish_after_commit`."""
    get_bus().publish(user_id, event_id)


def publish_after_commit(
    session: OrmSession,
    user_id: uuid.UUID,
    event_id: int,
    *,
    envelope: dict[str, Any] | None = None,
    prev_id: int | None = None,
) -> None:
    """Publish once `session`'s transaction commits; dropped if it rolls back."""
    session.info.setdefault(_PENDING_KEY, []).append((user_id, int(event_id), envelope, prev_id))


_BROADCAST_KEY = "chat3d.events.pending_broadcasts"


def broadcast_after_commit(session: OrmSession, envelope: dict[str, Any]) -> None:
    """Broadcast an ephemeral envelope to every open stream once `session` commits; dropped on rollback."""
    session.info.setdefault(_BROADCAST_KEY, []).append(envelope)


@sa_event.listens_for(OrmSession, "after_commit")
def _publish_pending(session: OrmSession) -> None:
    for envelope in session.info.pop(_BROADCAST_KEY, None) or []:
        try:
            get_bus().publish_broadcast(envelope)
        except Exception:
            log.exception("event bus: broadcast failed")
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    bus = get_bus()
    for user_id, event_id, envelope, prev_id in pending:
        try:
            bus.publish(user_id, event_id, envelope=envelope, prev_id=prev_id)
        except Exception:  # never let a wake-up break the caller after its data is committed
            log.exception("event bus: publish failed")


@sa_event.listens_for(OrmSession, "after_rollback")
def _drop_pending(session: OrmSession) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_BROADCAST_KEY, None)

"""The bus as wake-ups: thread-safe publish, coalescing, publish only after commit, Redis across buses."""

from __future__ import annotations

import asyncio
import threading
import uuid

from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.events import bus as bus_mod
from chat3d.events import store
from chat3d.events import types as T
from chat3d.events.bus import EventBus
from tests.support.servers import ThrowawayRedis


async def _eventually(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_publish_from_a_thread_wakes_the_listener_once_for_many_events() -> None:
    bus = EventBus("")
    user = uuid.uuid4()
    other = bus.listen(uuid.uuid4())
    listener = bus.listen(user)

    def burst() -> None:
        for i in range(1, 6):
            bus.publish(user, i)

    t = threading.Thread(target=burst)
    t.start()
    t.join()
    assert await listener.wait(2.0) is True
    assert listener.hint == 5 and listener.wants_read(0) and not listener.wants_read(5)
    assert await listener.wait(0.1) is False  # five publishes, one wake-up
    assert await other.wait(0.05) is False  # another user's listener is never woken
    bus.unlisten(listener)
    bus.unlisten(other)
    assert bus.listener_count() == 0


async def test_publish_after_commit_only_on_commit(app_env, user_factory) -> None:
    user = user_factory()
    bus = bus_mod.get_bus()
    listener = bus.listen(user.id)
    try:
        with Session(get_engine()) as s:
            store.record_event(s, user.id, T.NOTIFICATION_CREATED, {"n": 1})
            s.rollback()
        assert await listener.wait(0.2) is False
        with Session(get_engine()) as s:
            event_id = store.record_event(s, user.id, T.NOTIFICATION_CREATED, {"n": 2}).id
            assert await listener.wait(0.1) is False  # not before the commit
            s.commit()
        assert await listener.wait(2.0) is True and listener.hint == event_id
    finally:
        bus.unlisten(listener)


async def test_redis_carries_wake_ups_between_buses_and_survives_a_restart() -> None:
    server = ThrowawayRedis().start()
    a, b = EventBus(server.url, reconnect_max_s=0.5), EventBus(server.url, reconnect_max_s=0.5)
    user = uuid.uuid4()
    try:
        listener = b.listen(user)  # starts b's subscriber lazily
        await _eventually(lambda: b.live)
        listener.resync = False
        await listener.wait(0.01)
        await asyncio.to_thread(a.publish, user, 42)
        assert await listener.wait(5.0) is True and listener.hint == 42

        await asyncio.to_thread(server.restart)
        await _eventually(lambda: b.stats["reconnects"] >= 1 and b.live)
        assert listener.resync is True  # every listener re-reads after a reconnect
        listener.resync = False
        await asyncio.to_thread(a.publish, user, 43)
        await _eventually(lambda: listener.hint == 43)
    finally:
        await a.stop()
        await b.stop()
        server.stop()
    assert listener.closed  # stopping the bus ends its streams


async def test_live_text_from_another_process_reaches_a_watcher_through_redis(monkeypatch) -> None:
    """A query run by a worker process streams to the page's process: its text goes through Redis (before, live
    text stayed inside the process that ran the query, so with worker processes a chat never streamed)."""
    import subprocess
    import sys

    from chat3d.pipeline import live
    from chat3d.settings import reset_settings_cache

    server = ThrowawayRedis().start()
    monkeypatch.setenv("REDIS_URL", server.url)
    reset_settings_cache()
    query_id = str(uuid.uuid4())
    worker = (
        "import sys, time\n"
        "from chat3d.pipeline import live\n"
        "for text in ('Making', 'Making a', 'Making a tray.'):\n"
        "    live.publish_text(sys.argv[1], text)\n"
        "    time.sleep(0.05)\n"
    )
    try:
        queue = live.subscribe(query_id)
        await _eventually(lambda: bus_mod.get_bus().live)
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", worker, query_id], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        seen: list[str] = []
        while not seen or seen[-1] != "Making a tray.":
            seen.append(await asyncio.wait_for(queue.get(), 10))
        assert all(a in b for a, b in zip(seen, seen[1:]))  # newest kept, never an older text after a newer one
        live.unsubscribe(query_id, queue)
        assert bus_mod.get_bus()._text_watchers == {}
    finally:
        await bus_mod.stop_event_bus()
        server.stop()
        monkeypatch.delenv("REDIS_URL")
        reset_settings_cache()


async def test_live_text_without_redis_reaches_watchers_in_the_process() -> None:
    bus = EventBus("")
    queue = bus.watch_text("q1")
    other = bus.watch_text("q2")
    await asyncio.to_thread(bus.publish_text, "q1", "Hello")  # from a worker thread
    assert await asyncio.wait_for(queue.get(), 5) == "Hello"
    assert other.empty()

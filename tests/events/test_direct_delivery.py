"""Live events travel in the bus message when nothing can be missing; otherwise the table decides.

Each published event names its predecessor (the recipient's previous event id). A stream that has sent
exactly that predecessor sends the envelope from the message without reading the table; a stream that
sees a gap, crossed messages or a bare wake-up reads the table. Either way the client gets every event
once, in id order, with the same envelope as replay.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.events import bus as bus_mod
from chat3d.events import store
from chat3d.events import types as T
from chat3d.events.bus import EventBus
from chat3d.events.stream import HEARTBEAT, Ready, StreamConfig, batch_reader, user_event_stream


class _Published:
    """Records what the bus is asked to publish (a real bus, wrapped)."""

    def __init__(self, bus: EventBus) -> None:
        self.calls: list[tuple[uuid.UUID, int, dict | None, int | None]] = []
        self._publish = bus.publish

        def publish(user_id, event_id, *, envelope=None, prev_id=None):
            self.calls.append((user_id, event_id, envelope, prev_id))
            self._publish(user_id, event_id, envelope=envelope, prev_id=prev_id)

        bus.publish = publish  # type: ignore[method-assign]


def _record(user_id: uuid.UUID, n: int, *, publish: bool = True) -> int:
    with Session(get_engine()) as s:
        event_id = store.record_event(s, user_id, T.CHAT_ITEM_UPDATED, {"n": n}, publish=publish).id
        s.commit()
    return int(event_id)


def _config() -> StreamConfig:
    config = StreamConfig()
    config.heartbeat_s = 30.0  # no heartbeat (and its safety-net read) inside these tests
    return config


async def _take(stream, n: int, timeout: float = 5.0) -> list[dict]:
    out: list[dict] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            item = await anext(stream)
            if not isinstance(item, Ready) and item is not HEARTBEAT:
                out.append(item)
    return out


def test_each_published_event_names_the_recipients_previous_event(app_env, user_factory) -> None:
    a, b = user_factory(), user_factory()
    published = _Published(bus_mod.get_bus())
    first = _record(a.id, 1)
    with Session(get_engine()) as s:  # one transaction, two recipients, two events for a
        rows = store.record_many(s, [(a.id, T.CHAT_ITEM_UPDATED, {"n": 2}), (b.id, T.CHAT_ITEM_UPDATED, {"n": 1}),
                                     (a.id, T.CHAT_ITEM_UPDATED, {"n": 3})])
        rows = [r.id for r in rows]
        s.commit()
    silent = _record(a.id, 4, publish=False)
    last = _record(a.id, 5)

    prev = {event_id: prev_id for _, event_id, _, prev_id in published.calls}
    assert prev[first] == 0
    assert prev[rows[0]] == first and prev[rows[2]] == rows[0]
    assert prev[rows[1]] == 0  # b's first event
    assert prev[last] == silent  # an unpublished event still counts: a stream at `rows[2]` must read it
    envelopes = {event_id: env for _, event_id, env, _ in published.calls}
    with Session(get_engine()) as s:
        assert envelopes[last] == store.events_after(s, a.id, silent)[0]  # the message carries the replay envelope


async def test_an_up_to_date_stream_sends_live_events_without_reading_the_table(app_env, user_factory) -> None:
    user = user_factory()
    stream = user_event_stream(user.id, None, config=_config())
    assert isinstance(await anext(stream), Ready)
    reader = batch_reader()
    got: list[dict] = []
    consumer = asyncio.create_task(_collect(stream, got, 5))
    await asyncio.sleep(0.2)  # the stream's first read (from "now") is done; it waits for messages
    reads_before = reader.stats["reads"]
    ids = []
    for n in range(5):
        ids.append(await asyncio.to_thread(_record, user.id, n))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(consumer, 5)
    assert [e["id"] for e in got] == ids
    assert [e["payload"]["n"] for e in got] == list(range(5))
    assert reader.stats["reads"] == reads_before  # all five came from the messages
    await stream.aclose()


async def _collect(stream, out: list, n: int) -> None:
    out.extend(await _take(stream, n))


async def test_a_gap_makes_the_stream_read_the_table(app_env, user_factory) -> None:
    """An event whose message never arrived (here: never published) is read from the table first."""
    user = user_factory()
    stream = user_event_stream(user.id, None, config=_config())
    assert isinstance(await anext(stream), Ready)
    got: list[dict] = []
    consumer = asyncio.create_task(_collect(stream, got, 2))
    await asyncio.sleep(0.2)
    reads_before = batch_reader().stats["reads"]
    hidden = await asyncio.to_thread(_record, user.id, 1, publish=False)
    shown = await asyncio.to_thread(_record, user.id, 2)
    await asyncio.wait_for(consumer, 5)
    assert [e["id"] for e in got] == [hidden, shown]
    assert batch_reader().stats["reads"] > reads_before
    await stream.aclose()


async def test_crossed_and_duplicated_messages_deliver_each_event_once_in_order(app_env, user_factory) -> None:
    """Two publishers' messages can arrive in either order and twice; the stream still sends 1, 2, 3 once."""
    user = user_factory()
    bus = bus_mod.get_bus()
    stream = user_event_stream(user.id, None, config=_config())
    assert isinstance(await anext(stream), Ready)
    got: list[dict] = []
    consumer = asyncio.create_task(_collect(stream, got, 3))
    await asyncio.sleep(0.2)  # the stream's first read is done: from here only messages move it
    reads_before = batch_reader().stats["reads"]
    ids = [await asyncio.to_thread(_record, user.id, n, publish=False) for n in range(3)]
    with Session(get_engine()) as s:
        envs = store.events_after(s, user.id, 0)
    prevs = [0, ids[0], ids[1]]
    for i in (1, 0, 1, 2, 0):  # crossed, then duplicates
        bus.publish(user.id, ids[i], envelope=envs[i], prev_id=prevs[i])
    await asyncio.wait_for(consumer, 5)
    assert got == envs
    assert batch_reader().stats["reads"] == reads_before  # sorted by id, the crossed pair still chains
    extra = asyncio.create_task(_take(stream, 1, timeout=0.5))
    bus.publish(user.id, ids[2], envelope=envs[2], prev_id=prevs[2])
    try:
        await extra
        raise AssertionError("a duplicate message was delivered twice")
    except TimeoutError:
        pass
    await stream.aclose()


def test_redis_message_round_trip_keeps_the_envelope_and_predecessor() -> None:
    bus = EventBus("redis://127.0.0.1:9")  # never connected: only the message codec is used
    user = uuid.uuid4()
    seen = []
    bus._deliver = lambda uid, event: seen.append((uid, event))  # type: ignore[method-assign]
    env = {"id": 7, "type": T.CHAT_ITEM_UPDATED, "payload": {"text": "a:b:c ünïcode"}, "createdAt": "2026-11-22T00:00:00.000Z"}
    bus._on_message(f"{user.hex}:7:5:".encode() + __import__("json").dumps(env).encode())
    bus._on_message(f"{user.hex}:8".encode())  # a bare wake-up (old publishers, oversized payloads)
    bus._on_message(f"{user.hex}:9:8:{{\"id\": 10}}".encode())  # an envelope that is not for its id: ignored
    assert [(uid, e.event_id, e.prev_id, e.envelope) for uid, e in seen] == [(user, 7, 5, env), (user, 8, None, None)]


async def test_concurrent_publishers_for_the_same_users_lose_and_repeat_nothing(app_env, user_factory) -> None:
    """Four writer threads race on three users: messages cross and interleave with table reads; every
    stream still gets exactly its own events, each once, in id order."""
    users = [user_factory() for _ in range(3)]
    streams = [user_event_stream(u.id, None, config=_config()) for u in users]
    for stream in streams:
        assert isinstance(await anext(stream), Ready)
    per_thread = 40
    expected_total = 4 * per_thread  # each thread writes per_thread events spread over the users
    got: list[list[dict]] = [[] for _ in users]

    async def follow(i: int) -> None:
        async for item in streams[i]:
            if isinstance(item, Ready) or item is HEARTBEAT:
                continue
            got[i].append(item)
            if sum(len(g) for g in got) == expected_total:
                return

    followers = [asyncio.create_task(follow(i)) for i in range(len(users))]
    await asyncio.sleep(0.2)

    def writer(seed: int) -> None:
        for n in range(per_thread):
            _record(users[(seed + n) % len(users)].id, seed * 1000 + n)

    await asyncio.gather(*(asyncio.to_thread(writer, seed) for seed in range(4)))
    async with asyncio.timeout(20):
        while sum(len(g) for g in got) < expected_total:
            await asyncio.sleep(0.05)
    for f in followers:
        f.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    for i, user in enumerate(users):
        with Session(get_engine()) as s:
            assert got[i] == store.events_after(s, user.id, 0)  # all of them, once, in order, same envelopes
    for stream in streams:
        await stream.aclose()

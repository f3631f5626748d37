"""Issue 24 item 4: revoking one session records an event carrying its jti and that session's stream closes at
once (not at the next heartbeat); a re-check that cannot answer (database locked or away) holds delivery until
a check answers, and does not close the stream."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt
from sqlmodel import Session, select

from chat3d.db.engine import get_engine, session_scope
from chat3d.db.models import UserSession
from chat3d.domain import sessions as auth_sessions
from chat3d.events import store
from chat3d.events import types as T
from chat3d.events.stream import HEARTBEAT, Ready, StreamConfig, user_event_stream
from tests.events.conftest import make_user
from tests.events.test_stream_http import Stream


def _two_sessions() -> tuple[uuid.UUID, str, str]:
    with Session(get_engine(), expire_on_commit=False) as s:
        user = make_user(s)
        first = auth_sessions.start_session(s, user, ip="127.0.0.1", user_agent="phone")
        second = auth_sessions.start_session(s, user, ip="127.0.0.1", user_agent="laptop")
        s.commit()
        return user.id, first, second


def _session_id(token: str) -> tuple[str, uuid.UUID]:
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with session_scope() as s:
        return jti, s.exec(select(UserSession.id).where(UserSession.jti == jti)).one()


async def test_revoking_one_session_records_its_jti_and_closes_its_stream_at_once(quiet_stack) -> None:
    user_id, phone, laptop = await asyncio.to_thread(_two_sessions)
    jti, row_id = await asyncio.to_thread(_session_id, phone)
    async with Stream(quiet_stack["url"], phone) as phone_stream, Stream(quiet_stack["url"], laptop) as laptop_stream:
        await phone_stream.ready()
        await laptop_stream.ready()
        async with httpx.AsyncClient(base_url=quiet_stack["url"]) as client:  # the laptop signs the phone out
            answer = await client.delete(f"/api/auth/sessions/{row_id}", headers={"Authorization": f"Bearer {laptop}"})
        assert answer.status_code == 204
        assert await phone_stream.next(timeout=10) is None  # ended on the event, long before any heartbeat
        (event,) = await laptop_stream.take(1, timeout=10)
        assert event["type"] == T.SESSION_REVOKED and event["payload"] == {"jti": jti}
        assert await laptop_stream.nothing_for(0.5)  # the other session's stream stays open
    async with httpx.AsyncClient(base_url=quiet_stack["url"]) as client:
        replay = (await client.get("/api/events/replay", headers={"Authorization": f"Bearer {laptop}"})).json()
    assert [e["payload"] for e in replay["items"] if e["type"] == T.SESSION_REVOKED] == [{"jti": jti}]


async def test_an_unanswered_recheck_holds_delivery_until_a_check_answers(app_env, user_factory) -> None:
    user = user_factory()
    answer: list[bool | None] = [None]  # None: the re-check could not tell (e.g. "database is locked")
    calls = 0

    async def still_allowed() -> bool | None:
        nonlocal calls
        calls += 1
        return answer[0]

    config = StreamConfig()
    config.heartbeat_s = 0.2
    got: list[dict] = []
    ready = asyncio.Event()

    async def consume() -> None:
        async for item in user_event_stream(user.id, None, still_allowed=still_allowed, config=config):
            if isinstance(item, Ready):
                ready.set()
            elif item is not HEARTBEAT:
                got.append(item)

    def record() -> int:
        with Session(get_engine()) as s:
            event_id = store.record_event(s, user.id, T.CHAT_ITEM_UPDATED, {"n": 1}).id
            s.commit()
        return int(event_id)

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(ready.wait(), 5)
        async with asyncio.timeout(10):
            while calls < 2:  # a heartbeat check ran and could not answer
                await asyncio.sleep(0.05)
        event_id = await asyncio.to_thread(record)
        before = calls
        await asyncio.sleep(1.5)
        assert got == [] and not task.done()  # nothing delivered, and the outage did not close the stream
        assert calls > before + 1  # asked again meanwhile
        answer[0] = True
        async with asyncio.timeout(10):
            while not got:
                await asyncio.sleep(0.05)
        assert [e["id"] for e in got] == [event_id]
        answer[0] = False
        await asyncio.wait_for(task, 10)  # a refusal still ends it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

"""Faults around the real app process (`reflex run --env prod --single-port`, tests/support/app_process.py).

* The app is killed (SIGKILL to its whole process group) while it answers a query on the embedded default
  (queries run in-process, no Redis). A new app process on the same database and data dir resumes every
  active query at start; the query completes — it is never left stuck in a running state.
* Redis is stopped and restarted under an app with REDIS_URL: pages keep serving, an open event stream keeps
  delivering (it polls the table), a client that reconnects with Last-Event-ID gets exactly what it missed,
  and live delivery resumes after Redis returns.

The slow part of a query is a fake OpenAI endpoint (as in tests/pipeline/test_durability.py) that holds its
first answer for a minute. The shared `.web` build is locked as the browser tests do.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from chat3d.db.engine import get_engine, session_scope
from chat3d.db.models import ChatItem, Query, User
from chat3d.domain import chats
from chat3d.domain.passwords import hash_password
from chat3d.events import store
from chat3d.events import types as T
from chat3d.settings import REPO_ROOT, reset_settings_cache
from tests.events.test_stream_http import Stream
from tests.pipeline.test_durability import FakeOpenAI, _openai_text
from tests.support.app_process import AppProcess
from tests.support.servers import ThrowawayRedis

PASSWORD = "fault horse battery"


def _this_process_holds(path) -> bool:
    """True when this process already holds an flock on `path` (tests/browser's session-scoped lock in the same
    pytest run): a second flock on a new file description would wait for ourselves forever."""
    inode = os.stat(path).st_ino
    try:
        lines = open("/proc/locks", encoding="utf-8").read().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[4] == str(os.getpid()) and parts[5].endswith(f":{inode}"):
            return True
    return False


@pytest.fixture(scope="module")
def web_build_lock() -> Iterator[None]:
    """One running app per checkout at a time: `reflex run` builds into the shared `.web` folder."""
    path = REPO_ROOT / ".web.lock"
    with open(path, "a", encoding="utf-8") as fh:
        if _this_process_holds(path):
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
        fcntl.flock(fh, fcntl.LOCK_UN)


def _user(email: str) -> uuid.UUID:
    with Session(get_engine(), expire_on_commit=False) as s:
        user = User(email=email, password_hash=hash_password(PASSWORD))
        s.add(user)
        s.commit()
        return user.id


def _login(base: str, email: str) -> dict[str, str]:
    resp = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def _app(app_env, fresh_database: str, extra: dict[str, str]) -> AppProcess:
    # The app seeds the first admin at start (its workers race for it: tests/faults/test_seed_race.py).
    return AppProcess(data_dir=app_env, database_url=fresh_database, render_url="http://127.0.0.1:9",
                      env_extra={"BCRYPT_ROUNDS": "12", "RATE_LIMIT_API": "10000/minute"} | extra)


def _query_state(query_id) -> Query:
    with session_scope() as s:
        q = s.get(Query, query_id)
        s.expunge(q)
        return q


def _wait_state(query_id, states: set[str], timeout: float) -> Query:
    deadline = time.monotonic() + timeout
    q = None
    while time.monotonic() < deadline:
        q = _query_state(query_id)
        if q.state in states:
            return q
        time.sleep(0.2)
    raise AssertionError(f"query never reached {states}: {q.state if q else None} {q.detail if q else ''}")


def test_app_killed_mid_query_is_resumed_by_the_next_app_process(web_build_lock, accounts_env, fresh_database, monkeypatch) -> None:
    endpoint = FakeOpenAI()
    endpoint.start(_openai_text("This answer never arrives", delay_s=120))
    llm = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": endpoint.url, "QUERY_LEASE_S": "6", "QUERY_SWEEP_INTERVAL_S": "1"}
    _user("maker@example.com")
    first = _app(accounts_env, fresh_database, llm).start()
    second: AppProcess | None = None
    try:
        h = _login(first.url, "maker@example.com")
        cid = httpx.post(f"{first.url}/api/chat/contexts", json={}, headers=h).json()["id"]
        sub = httpx.post(f"{first.url}/api/query/submit", headers=h,
                         json={"contextId": cid, "prompt": "hello there", "conversationModelId": "gpt-4.1-mini"})
        assert sub.status_code == 202, sub.text
        qid = uuid.UUID(sub.json()["queryId"])
        _wait_state(qid, {"conversation"}, timeout=60)
        deadline = time.monotonic() + 20
        while not endpoint.fake.received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert endpoint.fake.received, "the app never called the model"

        os.killpg(first.proc.pid, signal.SIGKILL)  # no clean-up, no final state
        first.proc.wait(15)
        assert _query_state(qid).state == "conversation"
        endpoint.stop()
        endpoint.start(_openai_text("What size should it be?"))

        second = _app(accounts_env, fresh_database, llm)
        second.port = first.port  # same address, as a restarted container would be
        started = time.monotonic()
        second.start()
        done = _wait_state(qid, {"completed", "failed", "cancelled"}, timeout=60)
        assert done.state == "completed", done.detail
        assert done.attempts == 2
        with session_scope() as s:
            item = s.get(ChatItem, done.assistant_item_id)
            assert chats.text_of(item) == "What size should it be?"
        # What the user sees over HTTP after the restart, and how long the whole recovery took.
        status = httpx.get(f"{second.url}/api/query/{qid}", headers=h).json()
        assert status["state"] == "completed"
        print(f"recovered {time.monotonic() - started:.1f}s after the new process was started")
    finally:
        endpoint.stop()
        if second is not None:
            second.stop()
        first.stop()


async def _stream_story(base: str, token: str, user_id: uuid.UUID, redis: ThrowawayRedis) -> None:
    def record(n: int) -> list[int]:
        ids = []
        for i in range(n):
            with session_scope() as s:
                ids.append(store.record_event(s, user_id, T.CHAT_ITEM_UPDATED, {"n": i}).id)
        return ids

    async def page_ok() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=True) as c:
            assert (await c.get("/")).status_code == 200
            assert (await c.get("/login")).status_code == 200

    async with Stream(base, token) as s:
        await s.ready(15)
        before = await asyncio.to_thread(record, 2)
        assert [e["id"] for e in await s.take(2, timeout=10)] == before

        await asyncio.to_thread(redis.stop)
        await page_ok()
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            ready = await c.get("/ready")
            assert ready.status_code == 503 and ready.json()["failing"] == ["redis"]
        during = await asyncio.to_thread(record, 3)  # the open stream polls the table meanwhile
        assert [e["id"] for e in await s.take(3, timeout=10)] == during
        last_seen = during[-1]

    missed = await asyncio.to_thread(record, 2)  # nobody connected, Redis down
    await asyncio.to_thread(redis.start)
    async with Stream(base, token, last_event_id=last_seen) as s:
        await s.ready(15)
        assert [e["id"] for e in await s.take(2, timeout=10)] == missed  # replayed, in order
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the app's subscriber reconnects with backoff
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                if (await c.get("/ready")).status_code == 200:
                    break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("/ready did not recover after Redis returned")
        await asyncio.sleep(1.1)  # the test process's own publisher pauses 1 s after a failure
        after = await asyncio.to_thread(record, 2)
        assert [e["id"] for e in await s.take(2, timeout=10)] == after
    await page_ok()


def test_redis_restart_keeps_pages_serving_and_loses_no_event(web_build_lock, accounts_env, fresh_database, monkeypatch) -> None:
    redis = ThrowawayRedis().start()
    app = None
    try:
        monkeypatch.setenv("REDIS_URL", redis.url)
        reset_settings_cache()
        user_id = _user("listener@example.com")
        app = _app(accounts_env, fresh_database, {"REDIS_URL": redis.url, "EVENTS_POLL_INTERVAL_S": "0.5",
                                                  "EVENTS_HEARTBEAT_S": "2"}).start()
        token = _login(app.url, "listener@example.com")["Authorization"].removeprefix("Bearer ")
        asyncio.run(_stream_story(app.url, token, user_id, redis))
    finally:
        if app is not None:
            app.stop()
        redis.stop()
        monkeypatch.delenv("REDIS_URL")
        reset_settings_cache()

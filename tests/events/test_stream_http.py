"""The SSE stream and the REST routes against real app processes (uvicorn on create_api()) and real Redis.

Two app processes share one PostgreSQL database and one Redis. The test process writes events the way
domain code does (`record_event` + commit, which publishes on Redis after the commit), or asks app process
A to write one (`/__test/publish`) so that A's after-commit publish must reach a stream held by B.

Frames are parsed with httpx-sse (a maintained, spec-following SSE client), not with a parser of our own; the raw
bytes are also recorded (by a tapping transport) to check the exact wire framing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from sqlmodel import Session

from chat3d.db.engine import engine_for, get_engine, session_scope
from chat3d.db.models import UserStatus
from chat3d.domain import sessions as auth_sessions
from chat3d.events import store
from chat3d.events import types as T
from chat3d.settings import reset_settings_cache
from tests.conftest import TEMPLATE_DB, _admin_exec, database_url_for
from tests.events.appserver import ApiServer
from tests.events.conftest import make_user
from tests.support.servers import ThrowawayRedis

HEARTBEAT_S = 2.0
POLL_S = 0.5


@pytest.fixture(scope="module")
def stack(pg_admin_url: str, migrated_template: str, tmp_path_factory) -> Iterator[dict]:
    """One database, one Redis (restartable: ours alone) and two app processes for the whole module."""
    name = f"chat3d_ev_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    db_url = database_url_for(pg_admin_url, name)
    redis = ThrowawayRedis().start()
    data_dir = tmp_path_factory.mktemp("events-http")
    env = {
        "DATABASE_URL": db_url, "REDIS_URL": redis.url, "DATA_DIR": str(data_dir), "CHAT3D_ENV": "test",
        "EVENTS_HEARTBEAT_S": str(HEARTBEAT_S), "EVENTS_POLL_INTERVAL_S": str(POLL_S),
        "RENDER_SERVICE_URL": "http://127.0.0.1:9", "BCRYPT_ROUNDS": "4", "JWT_SECRET": "events-test-secret-" + "x" * 32,
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    reset_settings_cache()
    servers: list[ApiServer] = []
    try:
        servers = [ApiServer(env).start(data_dir), ApiServer(env).start(data_dir)]
        yield {"a": servers[0], "b": servers[1], "redis": redis, "db": db_url}
    finally:
        for s in servers:
            s.stop()
        redis.stop()
        mp.undo()
        reset_settings_cache()
        engine_for(db_url).dispose()
        engine_for.cache_clear()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _user_and_token(status: str = UserStatus.active.value):
    with Session(get_engine(), expire_on_commit=False) as s:
        user = make_user(s, status=status)
        token = auth_sessions.start_session(s, user, ip="127.0.0.1", user_agent="pytest")
        s.commit()
        return user.id, token


@pytest.fixture
def alice(stack):
    return _user_and_token()


@pytest.fixture
def bob(stack):
    return _user_and_token()


def _record(user_id: uuid.UUID, n: int = 1, event_type: str = T.CHAT_ITEM_UPDATED) -> list[int]:
    """Write n events for a user in one transaction each, as domain code does; returns their ids."""
    ids = []
    for i in range(n):
        with session_scope() as s:
            ids.append(store.record_event(s, user_id, event_type, {"n": i, "text": "line1\nline2"}).id)
    return ids


async def record(user_id: uuid.UUID, n: int = 1, event_type: str = T.CHAT_ITEM_UPDATED) -> list[int]:
    return await asyncio.to_thread(_record, user_id, n, event_type)


class _Tap(httpx.AsyncByteStream):
    """A response body that records the raw bytes it passes on (the parser never sees a difference)."""

    def __init__(self, inner: httpx.AsyncByteStream, sink: list[bytes]):
        self.inner, self.sink = inner, sink

    async def __aiter__(self):
        async for chunk in self.inner:
            self.sink.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class TappingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, with each response body recorded into `raw`."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.raw: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        response.stream = _Tap(response.stream, self.raw)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Stream:
    """An open /api/events/stream, parsed by httpx-sse; a reader task puts its events in a queue (None marks the end).

    The server's first frame (`retry:` only) marks the stream live. Frames without data (that one, heartbeats) are
    not queued: a browser's EventSource dispatches nothing for them."""

    def __init__(self, base_url: str, token: str | None = None, *, last_event_id: int | None = None,
                 query: str = "", cookie: bool = False):
        self.base_url, self.token, self.last_event_id, self.query, self.cookie = base_url, token, last_event_id, query, cookie
        self.queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()
        self.transport = TappingTransport()
        self.response: httpx.Response | None = None
        self.live = asyncio.Event()
        self.retry: int | None = None
        self.last_id = ""  # the last event ID, as an EventSource would resend it on reconnect
        self.empty_frames = 0

    @property
    def raw_lines(self) -> list[str]:
        """The body so far, split into lines (the server ends lines with LF)."""
        return b"".join(self.transport.raw).decode("utf-8").split("\n")

    async def __aenter__(self) -> Stream:
        headers = {}
        cookies = {}
        if self.token and self.cookie:
            cookies["chat3d_session"] = self.token
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(10, read=None), cookies=cookies,
                                        transport=self.transport)
        self._sse = aconnect_sse(self.client, "GET", f"/api/events/stream{self.query}", headers=headers)
        self.source = await self._sse.__aenter__()
        self.response = self.source.response
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            if self.response.status_code == 200:
                async for event in self.source.aiter_sse():
                    self.last_id = event.id
                    if event.retry is not None:
                        self.retry = event.retry
                        self.live.set()  # the server's first frame: its starting cursor is fixed
                    if not event.data:
                        # httpx-sse 0.4.3 also yields a blank line after a retry-only frame or a `: hb` comment once
                        # an id was seen (florimondmanca/httpx-sse#35); the spec, and browsers, dispatch nothing.
                        self.empty_frames += 1
                        continue
                    await self.queue.put(event)
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            self.queue.put_nowait(None)

    async def ready(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.live.wait(), timeout)

    async def next(self, timeout: float = 5.0) -> ServerSentEvent | None:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def take(self, n: int, timeout: float = 5.0) -> list[dict]:
        out = []
        for _ in range(n):
            event = await self.next(timeout)
            assert event is not None, f"stream ended after {len(out)} of {n} events"
            out.append(_envelope(event))
        return out

    async def nothing_for(self, seconds: float) -> bool:
        try:
            event = await asyncio.wait_for(self.queue.get(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {event}")

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self._sse.__aexit__(None, None, None)
        await self.client.aclose()


def _envelope(event: ServerSentEvent) -> dict:
    body = event.json()
    assert event.id == str(body["id"]) and event.event == body["type"]
    return body


# --- framing, auth, isolation ---------------------------------------------------------------------------


async def test_frames_parse_and_headers_are_right(stack, alice) -> None:
    user_id, token = alice
    (before,) = await record(user_id, 1)  # the stream starts after this one ("now")
    async with Stream(stack["a"].url, token) as s:
        r = s.response
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
        await s.ready()
        assert s.retry == 3000  # the first frame, as httpx-sse parsed it
        ids = await record(user_id, 2, T.NOTIFICATION_CREATED)
        events = [await s.next(), await s.next()]
        # Each event as a standard SSE parser (httpx-sse) reads it: id = the event id, event = its type, data = one
        # JSON envelope carrying both again.
        for event, event_id in zip(events, ids):
            assert isinstance(event, ServerSentEvent)
            assert (event.id, event.event) == (str(event_id), T.NOTIFICATION_CREATED)
            body = json.loads(event.data)
            assert set(body) == {"id", "type", "payload", "createdAt"}
            assert body["id"] == event_id and body["type"] == T.NOTIFICATION_CREATED
            assert body["payload"]["text"] == "line1\nline2" and body["createdAt"].endswith("Z")
        assert s.last_id == str(ids[-1])
        # On the wire: one `data:` line per event, even with newlines in the payload; a heartbeat comment arrives
        # (and no event with data comes of it).
        assert await s.nothing_for(HEARTBEAT_S + 0.5)
        lines = s.raw_lines
        # The first frame names the starting cursor (a browser resends it if it reconnects before any event).
        assert lines[:3] == [f"id: {before}", "retry: 3000", ""] and ": hb" in lines
        data_lines = [line for line in lines if line.startswith("data:")]
        assert len(data_lines) == 2
        frame_start = lines.index(f"id: {ids[0]}")
        assert lines[frame_start:frame_start + 4] == [
            f"id: {ids[0]}", f"event: {T.NOTIFICATION_CREATED}", data_lines[0], ""]


async def test_stream_requires_sign_in_and_accepts_the_session_cookie(stack, alice) -> None:
    user_id, token = alice
    async with httpx.AsyncClient(base_url=stack["a"].url) as c:
        r = await c.get("/api/events/stream")
        assert r.status_code == 401 and "error" in r.json()
        r = await c.get("/api/events/stream", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401
        r = await c.get("/api/events/stream", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "abc"})
        assert r.status_code == 400
    async with Stream(stack["a"].url, token, cookie=True) as s:
        assert s.response.status_code == 200
        await s.ready()
        ids = await record(user_id, 1)
        assert [e["id"] for e in await s.take(1)] == ids


async def test_a_token_in_the_url_is_never_accepted(stack, alice) -> None:
    """No tokens in URLs (they end up in logs, history and Referer): a valid JWT as a query parameter, with no
    Authorization header and no cookie, is refused on the stream and on the replay route alike."""
    user_id, token = alice
    async with httpx.AsyncClient(base_url=stack["a"].url, timeout=10) as c:
        # The token itself is good: the same JWT in the header is accepted by both routes.
        assert (await c.get("/api/events/replay", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        async with c.stream("GET", "/api/events/stream", headers={"Authorization": f"Bearer {token}"}) as ok:
            assert ok.status_code == 200
        for path in ("/api/events/stream", "/api/events/replay"):
            for name in ("token", "access_token", "jwt", "chat3d_session", "authorization", "auth"):
                for value in (token, f"Bearer {token}"):
                    r = await c.get(path, params={name: value})
                    assert r.status_code == 401, (path, name, r.status_code)
                    assert "error" in r.json() and not r.headers["content-type"].startswith("text/event-stream")
                    assert "set-cookie" not in r.headers  # nor is the URL token turned into a session cookie
        assert not c.cookies


async def test_a_user_never_receives_another_users_events(stack, alice, bob) -> None:
    (a_id, a_token), (b_id, b_token) = alice, bob
    async with Stream(stack["a"].url, a_token) as sa, Stream(stack["b"].url, b_token) as sb:
        await sa.ready()
        await sb.ready()
        expected = {a_id: [], b_id: []}
        for who in (b_id, a_id, b_id, b_id, a_id):
            expected[who] += await record(who, 1)
        assert [e["id"] for e in await sa.take(2)] == expected[a_id]
        assert [e["id"] for e in await sb.take(3)] == expected[b_id]
        assert await sa.nothing_for(0.5) and await sb.nothing_for(0.1)


# --- replay -------------------------------------------------------------------------------------------------


async def test_reconnect_with_last_event_id_replays_exactly_the_missed_events_then_goes_live(stack, alice) -> None:
    user_id, token = alice
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        (first,) = await record(user_id, 1)
        (got,) = await s.take(1)
        last_seen = int(s.last_id)
        assert got["id"] == first == last_seen
    missed = await record(user_id, 5)
    async with Stream(stack["b"].url, token, last_event_id=last_seen) as s:
        assert [e["id"] for e in await s.take(5)] == missed
        live = await record(user_id, 1)
        assert [e["id"] for e in await s.take(1)] == live
        assert await s.nothing_for(0.3)
    # ?lastEventId= for clients that cannot set headers; the header wins when both are given.
    async with Stream(stack["a"].url, token, query=f"?lastEventId={missed[2]}") as s:
        assert [e["id"] for e in await s.take(3)] == missed[3:] + live
    async with Stream(stack["a"].url, token, query="?lastEventId=0", last_event_id=missed[-1]) as s:
        assert [e["id"] for e in await s.take(1)] == live


async def test_without_last_event_id_the_stream_starts_now(stack, alice) -> None:
    user_id, token = alice
    await record(user_id, 3)
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        assert await s.nothing_for(0.3)
        new = await record(user_id, 1)
        assert [e["id"] for e in await s.take(1)] == new


async def test_a_stream_dropped_before_any_event_resumes_from_its_first_frame(stack, alice) -> None:
    """A browser's EventSource resends the last `id:` it read: the first frame's cursor when no event came yet.
    Events recorded while it was away arrive after the reconnect instead of being skipped as "before now"."""
    user_id, token = alice
    (old,) = await record(user_id, 1)
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        assert s.last_id == str(old)
        assert await s.nothing_for(0.2)
        resend = int(s.last_id)
    missed = await record(user_id, 2)
    async with Stream(stack["b"].url, token, last_event_id=resend) as s:
        assert [e["id"] for e in await s.take(2)] == missed
        assert await s.nothing_for(0.2)


# --- two processes, Redis outage ---------------------------------------------------------------------------


async def test_published_in_one_app_process_received_in_the_other(stack, alice) -> None:
    user_id, token = alice
    async with Stream(stack["b"].url, token) as s, httpx.AsyncClient(base_url=stack["a"].url) as a:
        await s.ready()
        started = time.monotonic()
        r = await a.post("/__test/publish", json={"userId": str(user_id), "type": T.CHAT_QUERY_STATE, "payload": {"state": "codegen"}})
        (got,) = await s.take(1)
        assert got["id"] == r.json()["id"] and got["payload"] == {"state": "codegen"}
        # Well under the heartbeat: delivered by the Redis wake-up, not by the heartbeat's re-read.
        assert time.monotonic() - started < HEARTBEAT_S / 2


async def test_redis_restart_mid_stream_loses_nothing(stack, alice) -> None:
    user_id, token = alice
    redis: ThrowawayRedis = stack["redis"]
    async with httpx.AsyncClient(base_url=stack["b"].url) as b:
        before = (await b.get("/__test/bus")).json()
        async with Stream(stack["b"].url, token) as s:
            await s.ready()
            ids = await record(user_id, 2)
            assert [e["id"] for e in await s.take(2)] == ids

            await asyncio.to_thread(redis.stop)
            during = await record(user_id, 3)  # committed while Redis is down: the stream polls the table
            assert [e["id"] for e in await s.take(3, timeout=5)] == during
            assert (await b.get("/__test/bus")).json()["live"] is False
            await asyncio.to_thread(redis.start)

            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                state = (await b.get("/__test/bus")).json()
                if state["live"] and state["reconnects"] > before["reconnects"]:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the subscriber did not reconnect: {state}")
            await asyncio.sleep(1.1)  # the test process's own publisher pauses 1 s after a failure
            after = await record(user_id, 2)
            assert [e["id"] for e in await s.take(2)] == after
            assert s.response.is_closed is False  # the same stream throughout


# --- access re-checks ---------------------------------------------------------------------------------------


async def test_a_revoked_sessions_stream_is_closed(stack, alice) -> None:
    user_id, token = alice
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        await asyncio.to_thread(_logout, token)
        started = time.monotonic()
        assert await s.next(timeout=HEARTBEAT_S * 2 + 2) is None  # the stream ended
        assert time.monotonic() - started <= HEARTBEAT_S * 2 + 1


def _logout(token: str) -> None:
    with session_scope() as session:
        assert auth_sessions.logout(session, token)


def _expire_row(token: str) -> None:
    """End the session server-side through its row's expires_at only (the JWT's own exp is days away)."""
    import jwt
    from sqlmodel import update

    from chat3d.db.models import UserSession

    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with session_scope() as session:
        session.exec(update(UserSession).where(UserSession.jti == jti)
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))


async def test_a_stream_whose_session_row_expired_is_closed(stack, alice) -> None:
    """Issue 21 (3): the heartbeat re-check honours the row's expires_at, as requests do; before, with Redis it
    looked only for a revocation key and kept the stream open."""
    user_id, token = alice
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        await asyncio.to_thread(_expire_row, token)
        assert await s.next(timeout=HEARTBEAT_S * 2 + 2) is None  # the stream ended


def _deactivate(user_id: uuid.UUID) -> int:
    from chat3d.db.models import User

    with session_scope() as session:
        user = session.get(User, user_id)
        user.status = UserStatus.deactivated.value
        session.add(user)
        return store.record_event(session, user_id, T.ACCOUNT_STATUS_CHANGED, {"status": user.status}).id


async def test_a_deactivated_users_stream_closes_on_the_status_event(stack, alice) -> None:
    user_id, token = alice
    async with Stream(stack["a"].url, token) as s:
        await s.ready()
        event_id = await asyncio.to_thread(_deactivate, user_id)
        (got,) = await s.take(1, timeout=2)
        assert got["id"] == event_id and got["type"] == T.ACCOUNT_STATUS_CHANGED
        assert await s.next(timeout=1.5) is None  # closed at once, not at the next heartbeat


# --- REST --------------------------------------------------------------------------------------------------


async def test_replay_since_a_time_starts_after_it_and_the_later_bound_wins(stack, alice) -> None:
    """`since` replays only events created after that moment (with `afterId`, the later bound wins); a value that is
    not an ISO time is a clear 400, not a silent replay from the start."""
    a_id, a_token = alice
    before = await record(a_id, 2)
    await asyncio.sleep(0.05)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.05)
    after = await record(a_id, 3)
    stamp = moment.isoformat().replace("+00:00", "Z")
    async with httpx.AsyncClient(base_url=stack["a"].url, headers={"Authorization": f"Bearer {a_token}"}) as c:
        r = (await c.get("/api/events/replay", params={"since": stamp})).json()
        assert [i["id"] for i in r["items"]] == after and r["total"] == 3
        naive = moment.replace(tzinfo=None).isoformat()  # no zone: taken as UTC
        assert [i["id"] for i in (await c.get("/api/events/replay", params={"since": naive})).json()["items"]] == after
        r = (await c.get("/api/events/replay", params={"since": stamp, "afterId": after[1]})).json()
        assert [i["id"] for i in r["items"]] == [after[2]]  # afterId is later here
        r = (await c.get("/api/events/replay", params={"since": stamp, "afterId": before[0]})).json()
        assert [i["id"] for i in r["items"]] == after  # since is later here
        for bad in ("yesterday", "2026-13-45T00:00:00Z", "12345"):
            r = await c.get("/api/events/replay", params={"since": bad})
            assert r.status_code == 400 and "ISO 8601" in r.json()["error"], r.text


async def test_replay_and_notification_routes(stack, alice, bob) -> None:
    (a_id, a_token), (b_id, _) = alice, bob
    chat = await record(a_id, 2)
    notes = await record(a_id, 3, T.NOTIFICATION_CREATED)
    foreign = (await record(b_id, 1, T.NOTIFICATION_CREATED))[0]
    auth = {"Authorization": f"Bearer {a_token}"}
    async with httpx.AsyncClient(base_url=stack["a"].url, headers=auth) as c:
        r = (await c.get("/api/events/replay", params={"afterId": chat[0], "limit": 2})).json()
        assert [i["id"] for i in r["items"]] == [chat[1], notes[0]] and r["total"] == 4
        assert (await c.get("/api/notifications/unread-count")).json() == {"unread": 3}
        page = (await c.get("/api/notifications", params={"limit": 2})).json()
        assert [i["id"] for i in page["items"]] == [notes[2], notes[1]] and page["total"] == 3 and page["unread"] == 3
        r = await c.post(f"/api/notifications/{notes[0]}/read")
        assert r.status_code == 200 and r.json()["readAt"] and r.json()["unread"] == 2
        unread = (await c.get("/api/notifications", params={"unreadOnly": "true"})).json()
        assert [i["id"] for i in unread["items"]] == [notes[2], notes[1]] and unread["total"] == 2
        for bad in (foreign, chat[0], 9_999_999_999):
            r = await c.post(f"/api/notifications/{bad}/read")
            assert r.status_code == 404 and "error" in r.json()
        assert (await c.post("/api/notifications/read-all")).json() == {"updated": 2, "unread": 0}
        assert (await c.get("/api/notifications/unread-count")).json() == {"unread": 0}
    async with httpx.AsyncClient(base_url=stack["a"].url) as anonymous:
        for method, path in (("GET", "/api/notifications"), ("GET", "/api/events/replay"),
                             ("POST", "/api/notifications/read-all"), ("GET", "/api/notifications/unread-count")):
            assert (await anonymous.request(method, path)).status_code == 401

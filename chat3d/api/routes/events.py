"""/api/events: the signed-in user's realtime stream (SSE) and a JSON replay of missed events.

`GET /api/events/stream` authenticates like every route (Bearer header or the `chat3d_session` cookie;
never a token in the URL) and sends only the caller's events:

    id: <event id>
    event: <type, e.g. chat.query.state>
    data: {"id": ..., "type": ..., "payload": {...}, "createdAt": "...Z"}   (one line)

Where it starts: after `Last-Event-ID` (the header a browser's EventSource resends on reconnect), or
`?lastEventId=` for clients that cannot set headers; the header wins when both are present. Missed events
are replayed first, in id order, then the stream goes live with no gap and no duplicate. Without either,
the stream starts at "now" (the caller's newest event id): a fresh page loads current state over REST.
The first frame, `id: <starting cursor>` and `retry: 3000` with no data, is sent once the starting point is
fixed (the stream is live from then on): a browser that reconnects before any event arrived resends that id
as Last-Event-ID, so nothing recorded while it was away is lost.
A `: hb` comment is sent every heartbeat (15 s); each heartbeat also re-checks the token and the
account, so a revoked session or a deactivated user's stream ends within one heartbeat, or at once when
an `account.status.changed` event (or an `account.session.revoked` naming this session's jti) arrives. A
re-check that cannot answer (database locked or away) holds delivery, retried within 1 s, without closing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from chat3d.api.deps import CurrentAuth, CurrentUser, DbSession, credentials
from chat3d.db.engine import session_scope
from chat3d.domain.errors import InvalidInput
from chat3d.domain.sessions import tokens_still_valid
from chat3d.events import store
from chat3d.events.stream import HEARTBEAT, CheckBatcher, Ready, StreamConfig, user_event_stream

log = logging.getLogger("chat3d.events.api")

router = APIRouter(prefix="/api/events", tags=["events"])

MAX_EVENT_ID = 2**63 - 1
RECONNECT_MS = 3000
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _last_event_id(request: Request, from_query: int | None) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None or not raw.strip():
        return from_query
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput("Last-Event-ID must be an event id (an integer).") from None
    if not 0 <= value <= MAX_EVENT_ID:
        raise InvalidInput("Last-Event-ID is out of range.")
    return value


def _tokens_still_valid(requests: list[tuple[str, uuid.UUID]]) -> Sequence[bool | None]:
    """For each (token, user id): False when the token is revoked/expired or the account is no longer
    active; True when it is fine; None when we cannot tell (database locked or away, Redis hiccup): the
    stream stays open but delivers nothing until a check answers (never counted as a pass). The whole
    batch in one database session (`tokens_still_valid`)."""
    try:
        with session_scope() as session:
            return tokens_still_valid(session, requests)
    except Exception as exc:
        log.warning("events: could not re-check %d stream sessions (%s)", len(requests), exc)
        return [None] * len(requests)


_checkers: dict[Any, CheckBatcher] = {}


def _checker() -> CheckBatcher:
    loop = asyncio.get_running_loop()
    checker = _checkers.get(loop)
    if checker is None:
        for old in [lp for lp in _checkers if lp.is_closed()]:
            del _checkers[old]
        checker = _checkers[loop] = CheckBatcher(_tokens_still_valid)
    return checker


def _frame(item: dict[str, Any]) -> ServerSentEvent:
    if item.get("id") is None:  # ephemeral broadcast: no `id:`, so the client's Last-Event-ID stays put
        return ServerSentEvent(
            data=json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=str), event=item["type"], sep="\n"
        )
    return ServerSentEvent(
        data=json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=str),
        event=item["type"],
        id=str(item["id"]),
        sep="\n",
    )


@router.get("/stream", response_class=EventSourceResponse)
async def stream_route(
    request: Request,
    auth: CurrentAuth,
    last_event_id: Annotated[int | None, Query(alias="lastEventId", ge=0, le=MAX_EVENT_ID)] = None,
) -> EventSourceResponse:
    start = _last_event_id(request, last_event_id)
    user_id, jti = auth.user.id, auth.jti
    found = credentials(request)
    assert found is not None, "CurrentAuth authenticated this request with them"
    token = found[0]

    async def still_allowed() -> bool | None:
        return await _checker().check(token, user_id)

    async def frames():
        async for item in user_event_stream(
            user_id, start, still_allowed=still_allowed, config=StreamConfig(), session_jti=jti
        ):
            if isinstance(item, Ready):  # the first frame: the stream is live from here on
                yield ServerSentEvent(id=str(item.cursor), retry=RECONNECT_MS, sep="\n")
            elif item is HEARTBEAT:
                yield ServerSentEvent(comment="hb", sep="\n")
            else:
                yield _frame(item)

    return EventSourceResponse(frames(), headers=STREAM_HEADERS, ping=0, sep="\n", send_timeout=30)


@router.get("/replay")
def replay_route(
    user: CurrentUser,
    session: DbSession,
    after_id: Annotated[int, Query(alias="afterId", ge=0, le=MAX_EVENT_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    since: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The caller's events after `afterId` and created after `since` (ISO 8601), oldest first.

    With both, the later bound wins. `total` counts all of them (page on with the last id as `afterId`).
    """
    if since is not None:
        after_id = max(after_id, store.last_id_at_or_before(session, user.id, _parse_since(since)))
    items = store.events_after(session, user.id, after_id, limit)
    return {"items": items, "total": store.count_after(session, user.id, after_id)}


def _parse_since(value: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC. Anything else is a clear 400."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("since must be an ISO 8601 time such as 2026-12-04T15:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

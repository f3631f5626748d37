"""/api/notifications: the signed-in user's notifications (`notification.created` events) and the badge.

Ids are the integer event ids of the stream. Another user's id, an unknown id, or the id of an event
that is not a notification answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import Paging
from chat3d.events import store

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("")
def list_notifications_route(
    user: CurrentUser,
    session: DbSession,
    paging: Paging,
    unread_only: Annotated[bool, Query(alias="unreadOnly")] = False,
) -> dict[str, Any]:
    items, total = store.list_notifications(
        session, user.id, limit=paging.limit, offset=paging.offset, unread_only=unread_only
    )
    return {"items": items, "total": total, "unread": store.unread_count(session, user.id)}


@router.get("/unread-count")
def unread_count_route(user: CurrentUser, session: DbSession) -> dict[str, int]:
    return {"unread": store.unread_count(session, user.id)}


@router.post("/read-all")
def read_all_route(user: CurrentUser, session: DbSession) -> dict[str, int]:
    updated = store.mark_all_read(session, user.id)
    return {"updated": updated, "unread": 0}


@router.post("/{notification_id}/read")
def read_route(notification_id: EventId, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    item = store.mark_read(session, user.id, notification_id)
    return {**item, "unread": store.unread_count(session, user.id)}

"""/api/admin: what admins inspect. Every route here depends on require_admin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chat3d.api.deps import DbSession, require_admin
from chat3d.api.schemas import CamelModel, Page, Paging
from chat3d.db.models import OutboxStatus
from chat3d.domain.outbox import list_outbox
from chat3d.domain.security_events import list_security_events

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class OutboxMessageOut(CamelModel):
    id: uuid.UUID
    to_email: str
    template: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class SecurityEventOut(CamelModel):
    id: uuid.UUID
    event_type: str
    user_id: uuid.UUID | None
    email: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime


@router.get("/outbox")
def outbox_route(session: DbSession, paging: Paging, status: OutboxStatus | None = None) -> Page[OutboxMessageOut]:
    rows, total = list_outbox(session, status=status, limit=paging.limit, offset=paging.offset)
    return Page(items=[OutboxMessageOut.model_validate(r) for r in rows], total=total)


@router.get("/security-events")
def security_events_route(
    session: DbSession, paging: Paging, event_type: Annotated[str | None, Query(alias="type")] = None
) -> Page[SecurityEventOut]:
    rows, total = list_security_events(session, event_type=event_type, limit=paging.limit, offset=paging.offset)
    return Page(items=[SecurityEventOut.model_validate(r) for r in rows], total=total)

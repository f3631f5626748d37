"""/api/invitations: the signed-in user's invitations and quota. Thin over chat3d.domain.invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import Field

from chat3d.api.deps import CurrentUser, DbSession, client_of
from chat3d.api.schemas import CamelModel, Paging
from chat3d.domain import invitations

router = APIRouter(prefix="/api/invitations", tags=["invitations"])


class InvitationOut(CamelModel):
    id: uuid.UUID
    email: str
    status: str
    created_at: datetime
    updated_at: datetime


class InvitationPage(CamelModel):
    items: list[InvitationOut]
    total: int
    used: int  # invitation mails sent in the last 30 days
    quota: int | None
    next_at: datetime | None  # when one more mail becomes available
    enabled: bool
    waitlist_required: bool


class InviteIn(CamelModel):
    emails: list[str] = Field(min_length=1, max_length=invitations.MAX_BATCH)


class InvitedOut(CamelModel):
    items: list[InvitationOut]
    used: int
    quota: int | None
    next_at: datetime | None


@router.get("")
def list_route(user: CurrentUser, session: DbSession, paging: Paging) -> InvitationPage:
    rows, total = invitations.list_invitations(session, user, limit=paging.limit, offset=paging.offset)
    u = invitations.usage(session, user)
    return InvitationPage(
        items=[InvitationOut.model_validate(r) for r in rows],
        total=total,
        used=u.used,
        quota=u.quota,
        next_at=u.next_at,
        enabled=u.enabled,
        waitlist_required=u.waitlist_required,
    )


@router.post("", status_code=201)
def invite_route(body: InviteIn, request: Request, user: CurrentUser, session: DbSession) -> InvitedOut:
    rows = invitations.create_invitations(session, user, body.emails, ip=client_of(request).ip)
    u = invitations.usage(session, user)
    return InvitedOut(
        items=[InvitationOut.model_validate(r) for r in rows], used=u.used, quota=u.quota, next_at=u.next_at
    )


@router.delete("/{invitation_id}", status_code=204)
def revoke_route(invitation_id: uuid.UUID, request: Request, user: CurrentUser, session: DbSession) -> None:
    invitations.revoke_invitation(session, user, invitation_id, ip=client_of(request).ip)

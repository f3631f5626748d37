"""/api/admin: what admins inspect and change. Every route here depends on require_admin; every change is audited
(the domain functions write the audit row in the same transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from chat3d.api.deps import AdminUser, DbSession, client_of, require_admin
from chat3d.api.schemas import CamelModel, Page, Paging
from chat3d.db.models import OutboxStatus, Role, UserStatus, WaitlistStatus
from chat3d.domain import admin, waitlist
from chat3d.domain.metrics import dashboard_metrics
from chat3d.domain.outbox import list_outbox
from chat3d.domain.policy import get_app_settings
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


# --- users ---------------------------------------------------------------------------------------------


class AdminUserOut(CamelModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str
    deactivation_reason: str | None
    deactivated_until: datetime | None
    deactivated_by: uuid.UUID | None
    created_at: datetime
    last_login_at: datetime | None


class DeactivateIn(CamelModel):
    reason: str = Field(min_length=1, max_length=500)


class RoleIn(CamelModel):
    role: Role


class ResetOut(CamelModel):
    message: str


@router.get("/users")
def users_route(
    session: DbSession, paging: Paging, q: str = "", status: UserStatus | None = None, role: Role | None = None
) -> Page[AdminUserOut]:
    rows, total = admin.list_users(
        session,
        search=q,
        status=status.value if status else None,
        role=role.value if role else None,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page(items=[AdminUserOut.model_validate(r) for r in rows], total=total)


@router.patch("/users/{user_id}/activate")
def activate_route(user_id: uuid.UUID, me: AdminUser, request: Request, session: DbSession) -> AdminUserOut:
    return AdminUserOut.model_validate(admin.activate_user(session, me, user_id, ip=client_of(request).ip))


@router.patch("/users/{user_id}/deactivate")
def deactivate_route(
    user_id: uuid.UUID, body: DeactivateIn, me: AdminUser, request: Request, session: DbSession
) -> AdminUserOut:
    return AdminUserOut.model_validate(
        admin.deactivate_user(session, me, user_id, body.reason, ip=client_of(request).ip)
    )


@router.patch("/users/{user_id}/role")
def role_route(user_id: uuid.UUID, body: RoleIn, me: AdminUser, request: Request, session: DbSession) -> AdminUserOut:
    return AdminUserOut.model_validate(
        admin.change_role(session, me, user_id, body.role.value, ip=client_of(request).ip)
    )


@router.post("/users/{user_id}/reset-password", status_code=202)
def reset_password_route(user_id: uuid.UUID, me: AdminUser, request: Request, session: DbSession) -> ResetOut:
    user = admin.reset_password(session, me, user_id, ip=client_of(request).ip)
    return ResetOut(message=f"A password-reset link was sent to {user.email}.")


# --- waitlist --------------------------------------------------------------------------------------------


class WaitlistEntryOut(CamelModel):
    id: uuid.UUID
    email: str
    status: str
    marketing_consent: bool
    invited_by: uuid.UUID | None
    email_confirmed_at: datetime | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    rejected_at: datetime | None
    created_at: datetime


class BulkApproveIn(CamelModel):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class BulkApproveOut(CamelModel):
    approved: list[uuid.UUID]
    skipped: list[dict[str, Any]]


@router.get("/waitlist")
def waitlist_route(
    session: DbSession, paging: Paging, status: WaitlistStatus | None = None, q: str = ""
) -> Page[WaitlistEntryOut]:
    rows, total = waitlist.list_entries(
        session, status=status.value if status else None, search=q, limit=paging.limit, offset=paging.offset
    )
    return Page(items=[WaitlistEntryOut.model_validate(r) for r in rows], total=total)


@router.patch("/waitlist/{entry_id}/approve")
def approve_route(entry_id: uuid.UUID, me: AdminUser, request: Request, session: DbSession) -> WaitlistEntryOut:
    return WaitlistEntryOut.model_validate(waitlist.approve_entry(session, me, entry_id, ip=client_of(request).ip))


@router.patch("/waitlist/{entry_id}/reject")
def reject_route(entry_id: uuid.UUID, me: AdminUser, request: Request, session: DbSession) -> WaitlistEntryOut:
    return WaitlistEntryOut.model_validate(waitlist.reject_entry(session, me, entry_id, ip=client_of(request).ip))


@router.post("/waitlist/bulk-approve")
def bulk_approve_route(body: BulkApproveIn, me: AdminUser, request: Request, session: DbSession) -> BulkApproveOut:
    result = waitlist.bulk_approve(session, me, list(body.ids), ip=client_of(request).ip)
    return BulkApproveOut(approved=result.approved, skipped=result.skipped)


# --- settings, audit log, metrics ----------------------------------------------------------------------------


class SettingsOut(CamelModel):
    waitlist_enabled: bool
    invitations_enabled: bool
    invitation_waitlist_required: bool
    invitation_quota_per_user: int
    updated_at: datetime
    updated_by: uuid.UUID | None


class SettingsIn(CamelModel):
    """Every field optional; types are checked strictly (a quota of "5" or 2.5 or true is refused)."""

    model_config = ConfigDict(extra="forbid")

    waitlist_enabled: StrictBool | None = None
    invitations_enabled: StrictBool | None = None
    invitation_waitlist_required: StrictBool | None = None
    invitation_quota_per_user: StrictInt | None = Field(default=None, ge=0, le=admin.MAX_QUOTA)


class AuditLogOut(CamelModel):
    id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]
    ip: str | None
    created_at: datetime


@router.get("/settings")
def settings_route(session: DbSession) -> SettingsOut:
    return SettingsOut.model_validate(admin.settings_view(get_app_settings(session)))


@router.patch("/settings")
def update_settings_route(body: SettingsIn, me: AdminUser, request: Request, session: DbSession) -> SettingsOut:
    row = admin.update_settings(session, me, body.model_dump(exclude_none=True), ip=client_of(request).ip)
    return SettingsOut.model_validate(admin.settings_view(row))


@router.get("/audit-log")
def audit_log_route(
    session: DbSession,
    paging: Paging,
    action: str | None = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    target_id: Annotated[str | None, Query(alias="targetId")] = None,
    q: str = "",
) -> Page[AuditLogOut]:
    rows, total = admin.list_audit_log(
        session,
        action=action,
        actor_id=actor_id,
        target_id=target_id,
        search=q,
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [AuditLogOut.model_validate({**row.model_dump(), "actor_email": email}) for row, email in rows]
    return Page(items=items, total=total)


@router.get("/metrics")
def metrics_route(session: DbSession) -> dict[str, Any]:
    return dashboard_metrics(session)

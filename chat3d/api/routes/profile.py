"""/api/profile: the signed-in user's profile and the email-confirmed account actions. Thin over the domain.

Requests (password change, email change, export, deletion) need a signed-in user; each answers 202 and
mails a link. Confirming is public (the token is the credential), but a caller signed in as another user
is refused. Reactivation requests are public and answer the same for every address.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlmodel import Session

from chat3d.api.deps import CurrentUser, DbSession, check_csrf, client_of, credentials
from chat3d.api.schemas import CamelModel
from chat3d.db.models import User
from chat3d.domain import account_actions as actions
from chat3d.domain.errors import DomainError
from chat3d.domain.ratelimit import enforce_rate_limit
from chat3d.domain.sessions import resolve_token
from chat3d.domain.users import normalize_email
from chat3d.settings import get_settings

router = APIRouter(prefix="/api/profile", tags=["profile"])

REACTIVATE_ANSWER = (
    "If this address belongs to an account that is waiting to be deleted, we sent it a link to reactivate it. "
    "Check your mailbox."
)


class ProfileOut(CamelModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    display_name: str
    marketing_consent: bool
    created_at: datetime
    pending_actions: list[dict[str, Any]]


class ProfilePatch(CamelModel):
    display_name: str | None = Field(default=None, max_length=500)
    marketing_consent: bool | None = None


class PasswordChangeIn(CamelModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class EmailChangeIn(CamelModel):
    new_email: str = Field(max_length=320)
    current_password: str = Field(max_length=1024)


class PasswordIn(CamelModel):
    current_password: str = Field(max_length=1024)


class EmailIn(CamelModel):
    email: str = Field(max_length=320)


class TokenIn(CamelModel):
    token: str = Field(max_length=200)


class AcceptedOut(CamelModel):
    message: str


class ConfirmOut(CamelModel):
    type: str
    message: str
    signed_out: bool
    detail: dict[str, Any] = {}


def _profile(session: Session, user: User) -> ProfileOut:
    return ProfileOut.model_validate(
        {**user.model_dump(), "pending_actions": actions.pending_actions(session, user.id)}
    )


def optional_auth(request: Request, session: Session) -> tuple[User | None, str | None]:
    """The signed-in caller on a public route, or (None, None); a stale credential counts as signed out."""
    found = credentials(request)
    if found is None:
        return None, None
    token, by_cookie = found
    try:
        user, jti = resolve_token(session, token)
    except DomainError:
        return None, None
    if by_cookie:
        check_csrf(request, session)
    return user, jti


def _limit_public(session: Session, request: Request, name: str, email: str | None = None) -> None:
    ip = client_of(request).ip
    rate = get_settings().rate_limit_register
    enforce_rate_limit(session, name, rate, ip or "-", ip=ip)
    if email:
        enforce_rate_limit(session, name + "-email", rate, normalize_email(email), ip=ip)


@router.get("")
def get_profile(user: CurrentUser, session: DbSession) -> ProfileOut:
    return _profile(session, user)


@router.patch("")
def patch_profile(body: ProfilePatch, user: CurrentUser, session: DbSession) -> ProfileOut:
    actions.update_profile(session, user, display_name=body.display_name, marketing_consent=body.marketing_consent)
    return _profile(session, user)


@router.post("/reset-password/request", status_code=202)
def request_password_change(
    body: PasswordChangeIn, request: Request, user: CurrentUser, session: DbSession
) -> AcceptedOut:
    actions.request_password_change(session, user, body.current_password, body.new_password, ip=client_of(request).ip)
    return AcceptedOut(message=f"We sent a confirmation link to {user.email}. Your password changes when you confirm.")


@router.post("/change-email/request", status_code=202)
def request_email_change(body: EmailChangeIn, request: Request, user: CurrentUser, session: DbSession) -> AcceptedOut:
    actions.request_email_change(session, user, body.new_email, body.current_password, ip=client_of(request).ip)
    return AcceptedOut(message="We sent a confirmation link to the new address, and a notice to your current one.")


@router.post("/export-data/request", status_code=202)
def request_export(user: CurrentUser, session: DbSession) -> AcceptedOut:
    actions.request_data_export(session, user)
    return AcceptedOut(message=f"We sent a confirmation link to {user.email}. The export starts when you confirm.")


@router.post("/delete-account/request", status_code=202)
def request_deletion(body: PasswordIn, request: Request, user: CurrentUser, session: DbSession) -> AcceptedOut:
    actions.request_account_deletion(session, user, body.current_password, ip=client_of(request).ip)
    return AcceptedOut(message=f"We sent a confirmation link to {user.email}. Nothing is deleted until you confirm.")


@router.post("/reactivate/request", status_code=202)
def request_reactivation(body: EmailIn, request: Request, session: DbSession) -> AcceptedOut:
    _limit_public(session, request, "reactivate", body.email)
    actions.request_reactivation(session, body.email, ip=client_of(request).ip)
    return AcceptedOut(message=REACTIVATE_ANSWER)


@router.get("/actions/preview")
def preview(session: DbSession, token: str = Query(default="", max_length=200)) -> dict[str, Any]:
    """What a link is for (type, status, masked new address); changes nothing."""
    return actions.preview_action(session, token)


def _confirm(request: Request, session: Session, token: str) -> ConfirmOut:
    user, jti = optional_auth(request, session)
    result = actions.confirm_action(session, token, signed_in=user, current_jti=jti, ip=client_of(request).ip)
    return ConfirmOut(type=result.type, message=result.message, signed_out=result.signed_out, detail=result.extra)


@router.post("/actions/confirm")
def confirm_post(body: TokenIn, request: Request, session: DbSession) -> ConfirmOut:
    return _confirm(request, session, body.token)


@router.get("/actions/confirm")
def confirm_get(request: Request, session: DbSession, token: str = Query(default="", max_length=200)) -> ConfirmOut:
    """For scripts and API clients; mails link to the confirm *page*, which asks for a click first."""
    return _confirm(request, session, token)

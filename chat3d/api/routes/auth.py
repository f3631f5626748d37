"""/api/auth: register, login, logout, the current user and their sessions. Thin over chat3d.domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import Field

from chat3d.api.deps import (
    CurrentAuth,
    CurrentUser,
    DbSession,
    check_csrf,
    clear_session_cookie,
    client_of,
    credentials,
    set_session_cookie,
)
from chat3d.api.schemas import CamelModel, Page, Paging
from chat3d.db.models import User
from chat3d.domain import sessions
from chat3d.domain.auth import authenticate, device_cookie
from chat3d.domain.registration import CHECK_MAIL, register
from chat3d.settings import get_settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


class UserOut(CamelModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    display_name: str


class AuthOut(CamelModel):
    token: str
    user: UserOut


class LoginIn(CamelModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RegisterIn(LoginIn):
    display_name: str | None = Field(default=None, max_length=120)
    registration_token: str | None = Field(default=None, max_length=200)


class SessionOut(CamelModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class RevokedOut(CamelModel):
    revoked: int


def _signed_in(response: Response, token: str, user: User) -> AuthOut:
    set_session_cookie(response, token)
    return AuthOut(token=token, user=UserOut.model_validate(user))


class CheckMailOut(CamelModel):
    message: str


@router.post("/register", status_code=201, responses={202: {"model": CheckMailOut}})
def register_route(
    body: RegisterIn, request: Request, response: Response, session: DbSession
) -> AuthOut | CheckMailOut:
    """201 and a session when the address is already proven (a registration link) or verification is off;
    otherwise 202 "check your mail", the same answer whether or not the address has an account."""
    client = client_of(request)
    token, user = register(
        session,
        body.email,
        body.password,
        body.display_name,
        body.registration_token,
        ip=client.ip,
        user_agent=client.user_agent,
    )
    if token is None or user is None:
        response.status_code = 202
        return CheckMailOut(message=CHECK_MAIL)
    return _signed_in(response, token, user)


DEVICE_COOKIE = "chat3d_device"


@router.post("/login")
def login_route(body: LoginIn, request: Request, response: Response, session: DbSession) -> AuthOut:
    """Signs in; the response also leaves a long-lived signed device cookie, so this browser is never locked out
    of this account by other people's failed attempts (chat3d.domain.auth)."""
    client = client_of(request)
    token, user = authenticate(
        session, body.email, body.password, client.ip, client.user_agent, device=request.cookies.get(DEVICE_COOKIE)
    )
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(user),
        max_age=365 * 24 * 3600,
        path="/api/auth/login",
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )
    return _signed_in(response, token, user)


@router.post("/logout", status_code=204)
def logout_route(request: Request, response: Response, session: DbSession) -> None:
    """End the presented session, if any, and clear the cookie."""
    found = credentials(request)
    if found:
        token, by_cookie = found
        if by_cookie:
            check_csrf(request, session)
        sessions.logout(session, token)
    clear_session_cookie(response)


@router.get("/me")
def me_route(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/sessions")
def list_sessions_route(auth: CurrentAuth, session: DbSession, paging: Paging) -> Page[SessionOut]:
    rows, total = sessions.list_sessions(session, auth.user.id, limit=paging.limit, offset=paging.offset)
    items = [SessionOut.model_validate({**r.model_dump(), "current": r.jti == auth.jti}) for r in rows]
    return Page(items=items, total=total)


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session_route(session_id: uuid.UUID, user: CurrentUser, session: DbSession) -> None:
    sessions.revoke_session(session, user.id, session_id)


@router.post("/sessions/revoke-others")
def revoke_others_route(auth: CurrentAuth, session: DbSession) -> RevokedOut:
    return RevokedOut(revoked=sessions.revoke_other_sessions(session, auth.user.id, auth.jti))

"""Request dependencies: the database session, who is calling, and the admin gate.

A caller is authenticated by `Authorization: Bearer <jwt>` or by the `chat3d_session` cookie that login
sets. A cookie rides along on any request the browser makes, so with cookie authentication a state-changing
request must also carry `X-Chat3D-CSRF: 1`: a custom header that a cross-site form cannot send.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from chat3d.db.engine import session_scope
from chat3d.db.models import Role, User
from chat3d.domain.errors import Forbidden, Unauthorized
from chat3d.domain.ratelimit import enforce_rate_limit
from chat3d.domain.security_events import record_security_event
from chat3d.domain.sessions import resolve_token
from chat3d.settings import get_settings

COOKIE_NAME = "chat3d_session"
CSRF_HEADER = "X-Chat3D-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# scope="function": commit (or roll back) before the response is sent, so a client never sees an answer
# for a change that did not commit.
DbSession = Annotated[Session, Depends(_db_session, scope="function")]


@dataclass(frozen=True)
class Client:
    ip: str | None
    user_agent: str | None


def client_of(request: Request) -> Client:
    return Client(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))


def credentials(request: Request) -> tuple[str, bool] | None:
    """(token, came_from_cookie) of the request, Bearer first."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie, True) if cookie else None


def check_csrf(request: Request, session: Session) -> None:
    """Refuse a cookie-authenticated, state-changing request without the CSRF header."""
    if request.method in SAFE_METHODS or request.headers.get(CSRF_HEADER) == "1":
        return
    client = client_of(request)
    record_security_event(
        session,
        "csrf.refused",
        ip=client.ip,
        user_agent=client.user_agent,
        details={"method": request.method, "path": request.url.path},
    )
    raise Forbidden(f"Cookie-authenticated requests that change data need the header {CSRF_HEADER}: 1.")


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.jwt_expiry_minutes * 60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=get_settings().secure_cookies)


@dataclass(frozen=True)
class Auth:
    user: User
    jti: str


def _auth(request: Request, session: DbSession) -> Auth:
    """The signed-in caller, counted against the per-user API rate limit."""
    found = credentials(request)
    if found is None:
        raise Unauthorized("Sign in to continue.")
    token, by_cookie = found
    client = client_of(request)
    user, jti = resolve_token(session, token, ip=client.ip, user_agent=client.user_agent)
    if by_cookie:
        check_csrf(request, session)
    enforce_rate_limit(session, "api", get_settings().rate_limit_api, str(user.id), user_id=user.id, ip=client.ip)
    return Auth(user=user, jti=jti)


CurrentAuth = Annotated[Auth, Depends(_auth)]


def current_user(auth: CurrentAuth) -> User:
    return auth.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_admin(user: CurrentUser) -> User:
    if user.role != Role.admin.value:
        raise Forbidden("Only admins may do this.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]

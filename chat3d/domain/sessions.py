"""Login sessions: each login is a signed JWT (HS256) plus a user_sessions row named by its jti.

The table is the source of truth: a token is good only while its row exists, belongs to the token's `sub`,
has not expired (`expires_at`) and is not revoked. With REDIS_URL set, every revocation is also written to
Redis (key per jti, expiring with the token) and checked as well, so no process accepts a revoked token
even before its table read. The user is reloaded on every request, so deactivation and role changes act
at once. The signing key comes from chat3d.domain.keys.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

import jwt
import redis
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import SelectOfScalar

from chat3d.db.models import User, UserSession, UserStatus, utcnow
from chat3d.domain.coerce import aware
from chat3d.domain.errors import NotFound, Unauthorized
from chat3d.domain.keys import JWT, key
from chat3d.domain.pagination import paginate
from chat3d.domain.security_events import record_security_event
from chat3d.settings import get_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "jti", "iss", "aud", "exp"]
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
_REVOKED_KEY = "chat3d:revoked-jti:{}"
_SEEN_KEY = "chat3d:seen-jti:{}"


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _revocation_cache() -> redis.Redis | None:
    url = get_settings().redis_url
    return _redis(url) if url else None


def start_session(session: Session, user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Record a login and return its token (also used right after registration)."""
    settings = get_settings()
    now = utcnow()
    jti = uuid.uuid4().hex
    expires_at = now + timedelta(minutes=settings.jwt_expiry_minutes)
    session.add(
        UserSession(
            user_id=user.id,
            jti=jti,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            user_agent=user_agent[:500] if user_agent else None,
            ip=ip[:64] if ip else None,
        )
    )
    user.last_login_at = now
    session.add(user)
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "jti": jti,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": expires_at,
    }
    return jwt.encode(claims, key(JWT), algorithm=ALGORITHM)


def _decode(token: str) -> dict:
    settings = get_settings()
    return jwt.decode(
        token,
        key(JWT),
        algorithms=[ALGORITHM],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"require": REQUIRED_CLAIMS},
    )


def resolve_token(
    session: Session, token: str, *, ip: str | None = None, user_agent: str | None = None
) -> tuple[User, str]:
    """The active user a token belongs to and the token's jti; Unauthorized (and a security event) otherwise."""

    def refuse(event_type: str, reason: str, sub: str | None = None, user: User | None = None) -> Unauthorized:
        # The event links a user only when one was loaded: a deleted account's id would break the foreign key.
        record_security_event(
            session,
            event_type,
            user_id=user.id if user else None,
            ip=ip,
            user_agent=user_agent,
            details={"reason": reason, "sub": sub},
        )
        return Unauthorized("Your session has ended; sign in again.")

    try:
        claims = _decode(token)
        user_id = uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise refuse("token.invalid", type(exc).__name__) from None
    sub = claims["sub"]
    jti = claims["jti"]
    cache = _revocation_cache()
    row = session.exec(select(UserSession).where(UserSession.jti == jti)).first()
    revoked = row is None or row.revoked_at is not None
    if cache is not None and not revoked:
        revoked = bool(cache.exists(_REVOKED_KEY.format(jti)))
    user = session.get(User, user_id)
    if revoked or row is None:
        raise refuse("token.revoked", "session revoked" if row else "no such session", sub, user)
    if row.user_id != user_id:  # a token re-signed for another account: the session is not theirs
        raise refuse("token.refused", "session belongs to another user", sub, None)
    if aware(row.expires_at) <= utcnow():
        raise refuse("token.refused", "session expired", sub, user)
    if user is None or user.status != UserStatus.active.value:
        raise refuse("token.refused", "account missing or not active", sub, user)
    _touch(session, jti, row, cache)
    return user, jti


def tokens_still_valid(session: Session, checks: list[tuple[str, uuid.UUID]]) -> list[bool]:
    """For long-lived streams re-checking at their heartbeat: does each (token, user id) still name a live
    session of that active user? The rules of `resolve_token` (row exists, belongs to `sub`, not expired,
    not revoked), for a whole batch in one query for the rows (plus a Redis pipeline for revocations), one
    query for the accounts and one conditional last-seen update,
    instead of several round trips per stream. A refusal goes through `resolve_token` once more, so it is
    recorded as a security event as before."""
    now = utcnow()
    claims: list[tuple[str, uuid.UUID] | None] = []
    for token, user_id in checks:
        try:
            c = _decode(token)
            claims.append((c["jti"], user_id) if uuid.UUID(c["sub"]) == user_id else None)
        except (jwt.PyJWTError, ValueError, KeyError):
            claims.append(None)
    jtis = sorted({c[0] for c in claims if c})
    uids = {c[1] for c in claims if c}
    cache = _revocation_cache()
    # jti -> owner, for rows neither revoked nor expired: the same three checks as resolve_token.
    owners: dict[str, uuid.UUID] = (
        dict(
            session.exec(
                select(UserSession.jti, UserSession.user_id).where(
                    col(UserSession.jti).in_(jtis), col(UserSession.revoked_at).is_(None), UserSession.expires_at > now
                )
            ).all()
        )
        if jtis
        else {}
    )
    if cache is not None and owners:
        names = sorted(owners)
        pipe = cache.pipeline(transaction=False)
        for jti in names:
            pipe.exists(_REVOKED_KEY.format(jti))
        for jti, revoked in zip(names, pipe.execute()):
            if revoked:
                owners.pop(jti)
    active = (
        set(session.exec(select(User.id).where(col(User.id).in_(uids), User.status == UserStatus.active.value)).all())
        if uids
        else set()
    )
    answers = [bool(c and owners.get(c[0]) == c[1] and c[1] in active) for c in claims]
    seen = sorted({c[0] for c, ok in zip(claims, answers) if c and ok})
    if seen:  # last_seen_at to the minute, as for requests: only rows older than that are written
        session.exec(
            update(UserSession)
            .where(col(UserSession.jti).in_(seen), col(UserSession.last_seen_at) < now - LAST_SEEN_RESOLUTION)
            .values(last_seen_at=now)
        )
    for (token, _), ok in zip(checks, answers):
        if not ok:
            try:
                resolve_token(session, token)  # records why it was refused
            except Unauthorized:
                pass
    return answers


def _touch(session: Session, jti: str, row: UserSession | None, cache: redis.Redis | None) -> None:
    """Keep last_seen_at to the minute without writing on every request."""
    now = utcnow()
    if row is not None:
        if aware(row.last_seen_at) < now - LAST_SEEN_RESOLUTION:
            row.last_seen_at = now
            session.add(row)
    elif cache is not None and cache.set(
        _SEEN_KEY.format(jti), 1, nx=True, ex=int(LAST_SEEN_RESOLUTION.total_seconds())
    ):
        session.exec(update(UserSession).where(col(UserSession.jti) == jti).values(last_seen_at=now))


def user_from_token(session: Session, token: str) -> User:
    """The active user behind `token`; raises Unauthorized when it is invalid, expired or revoked."""
    return resolve_token(session, token)[0]


def _revoke(session: Session, rows: list[UserSession]) -> int:
    """Mark sessions revoked in the table and, first, in the Redis cache (so no window accepts them)."""
    now = utcnow()
    live = [r for r in rows if r.revoked_at is None]
    cache = _revocation_cache()
    if cache is not None and live:
        pipe = cache.pipeline()
        for r in live:
            pipe.set(_REVOKED_KEY.format(r.jti), 1, ex=max(1, int((aware(r.expires_at) - now).total_seconds()) + 1))
        pipe.execute()
    for r in live:
        r.revoked_at = now
        session.add(r)
    session.flush()
    if live:  # durable: the revoked session's stream ends on it at once, whichever process holds it
        from chat3d.events.store import record_many
        from chat3d.events.types import SESSION_REVOKED

        record_many(session, [(r.user_id, SESSION_REVOKED, {"jti": r.jti}) for r in live])
    return len(live)


def logout(session: Session, token: str) -> bool:
    """Revoke the session of `token`; a token that is already unusable is simply ignored."""
    try:
        jti = _decode(token)["jti"]
    except jwt.PyJWTError:
        return False
    row = session.exec(select(UserSession).where(UserSession.jti == jti)).first()
    return bool(row and _revoke(session, [row]))


def _active(user_id: uuid.UUID) -> SelectOfScalar[UserSession]:
    return select(UserSession).where(
        UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None), UserSession.expires_at > utcnow()
    )


def list_sessions(
    session: Session, user_id: uuid.UUID, *, limit: int = 50, offset: int = 0
) -> tuple[list[UserSession], int]:
    """The user's live sessions, most recently used first."""
    return paginate(session, _active(user_id), col(UserSession.last_seen_at).desc(), limit=limit, offset=offset)


def revoke_session(session: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    row = session.exec(_active(user_id).where(UserSession.id == session_id)).first()
    if row is None:
        raise NotFound("No such session.")
    _revoke(session, [row])


def revoke_other_sessions(session: Session, user_id: uuid.UUID, current_jti: str) -> int:
    """Sign out everywhere else; returns how many sessions ended."""
    return _revoke(session, list(session.exec(_active(user_id).where(UserSession.jti != current_jti)).all()))


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """End every session of a user (password change, deactivation, deletion)."""
    return _revoke(session, list(session.exec(_active(user_id)).all()))

"""Creating accounts: open, or gated by a registration token bound to one email while the waitlist is on."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, update

from chat3d.db.models import Invitation, InvitationStatus, RegistrationToken, TokenSource, User, utcnow
from chat3d.domain.errors import Conflict, Forbidden
from chat3d.domain.outbox import enqueue_mail
from chat3d.domain.passwords import check_password_rules, hash_password
from chat3d.domain.policy import get_app_settings
from chat3d.domain.ratelimit import enforce_rate_limit
from chat3d.domain.sessions import start_session
from chat3d.domain.tokens import hash_token, new_token
from chat3d.domain.users import check_email, clean_line, get_user_by_email
from chat3d.settings import get_settings

DEFAULT_TOKEN_TTL = timedelta(days=7)
TOKEN_REFUSED = "This registration link is invalid, expired or already used."
ALREADY_REGISTERED = "An account with this email already exists; sign in instead."


def issue_registration_token(
    session: Session,
    email: str,
    source: TokenSource | str,
    invited_by: uuid.UUID | None = None,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    *,
    max_uses: int = 1,
    waitlist_entry_id: uuid.UUID | None = None,
) -> str:
    """Create a token that lets `email` register; returns the raw token (only its SHA-256 is kept)."""
    raw, digest = new_token()
    session.add(
        RegistrationToken(
            token_hash=digest, email=check_email(email), source=TokenSource(source).value, invited_by=invited_by,
            waitlist_entry_id=waitlist_entry_id, max_uses=max_uses, expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return raw


def _consume_registration_token(session: Session, raw: str, email: str) -> uuid.UUID:
    """Use the token once, atomically: one conditional UPDATE, so parallel uses cannot exceed max_uses."""
    now = utcnow()
    token_id = session.exec(
        update(RegistrationToken)
        .where(
            RegistrationToken.token_hash == hash_token(raw),
            RegistrationToken.email == email,
            RegistrationToken.used_count < RegistrationToken.max_uses,
            RegistrationToken.expires_at > now,
            RegistrationToken.revoked_at.is_(None),
        )
        .values(used_count=RegistrationToken.used_count + 1, consumed_at=now)
        .returning(RegistrationToken.id)
    ).scalar_one_or_none()
    if token_id is None:
        raise Forbidden(TOKEN_REFUSED)
    session.exec(
        update(Invitation)
        .where(Invitation.registration_token_id == token_id)
        .values(status=InvitationStatus.accepted.value, updated_at=now)
    )
    return token_id


def register(
    session: Session,
    email: str,
    password: str,
    display_name: str | None = None,
    registration_token: str | None = None,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, User]:
    """Create an active account and sign it in; returns (token, user) and queues the welcome mail.

    While the waitlist is on a registration token for this email is required; a token given while it
    is off is consumed all the same, so its invitation counts as accepted.
    """
    enforce_rate_limit(session, "register", get_settings().rate_limit_register, ip or "-", ip=ip)
    email = check_email(email)
    check_password_rules(password)
    password_hash = hash_password(password)
    if registration_token:
        _consume_registration_token(session, registration_token, email)
    elif get_app_settings(session).waitlist_enabled:
        raise Forbidden("Registration is by invitation only; join the waitlist to get a registration link.")
    if get_user_by_email(session, email):
        raise Conflict(ALREADY_REGISTERED)
    user = User(email=email, password_hash=password_hash, display_name=clean_line(display_name)[:120])
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same email registered by a parallel request a moment ago
        raise Conflict(ALREADY_REGISTERED) from None
    enqueue_mail(session, email, "welcome", {"display_name": user.display_name or email}, user_id=user.id)
    return start_session(session, user, ip=ip, user_agent=user_agent), user


def email_for_registration_token(session: Session, raw: str) -> str | None:
    """The email a still-usable registration token is bound to (pre-fills the register page), else None."""
    from sqlmodel import select

    token = session.exec(select(RegistrationToken).where(RegistrationToken.token_hash == hash_token(raw))).first()
    if token is None or token.revoked_at is not None or token.used_count >= token.max_uses:
        return None
    expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=utcnow().tzinfo)
    return token.email if expires > utcnow() else None

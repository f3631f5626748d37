"""Creating accounts: open, or gated by a registration token bound to one email while the waitlist is on.

Open registration never tells the caller whether an address is taken and never trusts an unconfirmed address:
it answers "check your mail" either way. A new address gets an account in `pending_registration` and a link
(an `email_verification` account action holding the chosen password's hash); the account works once the link
is confirmed (account_actions.confirm_action). A taken address gets a mail telling its owner that someone tried
to register it. A registration token (invitation or waitlist link) was itself mailed to the address, so with
one the account is active at once; REGISTRATION_EMAIL_VERIFICATION=false does the same for closed deployments.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, update

from chat3d.db.models import (
    NO_PASSWORD,
    Invitation,
    InvitationStatus,
    OutboxMessage,
    RegistrationToken,
    TokenSource,
    User,
    UserStatus,
    utcnow,
)
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
CHECK_MAIL = (
    "Check your mail: we sent a link to confirm this address. Your account works once you have "
    "opened it (valid for 24 hours)."
)


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
            token_hash=digest,
            email=check_email(email),
            source=TokenSource(source).value,
            invited_by=invited_by,
            waitlist_entry_id=waitlist_entry_id,
            max_uses=max_uses,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return raw


def _refused_token(session: Session, raw: str, email: str, ip: str | None) -> Forbidden:
    """Record why a registration link was refused (forged, expired, reused, revoked or for another address;
    never the token) and say no, the same way for every reason."""
    from chat3d.domain.security_events import record_security_event

    token = session.exec(select(RegistrationToken).where(RegistrationToken.token_hash == hash_token(raw))).first()
    details: dict = {}
    if token is None:
        reason = "unknown token"
    else:
        details = {"tokenId": str(token.id), "source": token.source}
        expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=utcnow().tzinfo)
        if token.revoked_at is not None:
            reason = "revoked"
        elif token.used_count >= token.max_uses:
            reason = "reused"
        elif expires <= utcnow():
            reason = "expired"
        else:
            reason = "other address"
    record_security_event(
        session, "registration_token.refused", email=email, ip=ip, details={"reason": reason, **details}
    )
    return Forbidden(TOKEN_REFUSED)


def _consume_registration_token(session: Session, raw: str, email: str, *, ip: str | None = None) -> uuid.UUID:
    """Use the token once, atomically: one conditional UPDATE, so parallel uses cannot exceed max_uses.
    Success and refusal each leave a security event (token id and reason, never the token)."""
    from chat3d.domain.security_events import record_in_transaction

    now = utcnow()
    token_id = session.exec(
        update(RegistrationToken)
        .where(
            col(RegistrationToken.token_hash) == hash_token(raw),
            col(RegistrationToken.email) == email,
            col(RegistrationToken.used_count) < RegistrationToken.max_uses,
            col(RegistrationToken.expires_at) > now,
            col(RegistrationToken.revoked_at).is_(None),
        )
        .values(used_count=RegistrationToken.used_count + 1, consumed_at=now)
        .returning(col(RegistrationToken.id))
    ).scalar_one_or_none()
    if token_id is None:
        raise _refused_token(session, raw, email, ip)
    record_in_transaction(
        session, "registration_token.consumed", email=email, ip=ip, details={"tokenId": str(token_id)}
    )
    from chat3d.domain.invitations import _set_status, tell_inviters

    tell_inviters(
        session, _set_status(session, [Invitation.registration_token_id == token_id], InvitationStatus.accepted.value)
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
) -> tuple[str | None, User | None]:
    """Register; returns (session token, user) when the account is usable now, (None, None) when the answer is
    "check your mail" (open registration with verification on, whether or not the address was free).

    While the waitlist is on a registration token for this email is required; a token given while it
    is off is consumed all the same, so its invitation counts as accepted.
    """
    enforce_rate_limit(session, "register", get_settings().rate_limit_register, ip or "-", ip=ip)
    email = check_email(email)
    check_password_rules(password)
    password_hash = hash_password(password)
    name = clean_line(display_name)[:120]
    if registration_token:
        _consume_registration_token(session, registration_token, email, ip=ip)
    elif get_app_settings(session).waitlist_enabled:
        raise Forbidden("Registration is by invitation only; join the waitlist to get a registration link.")
    elif get_settings().registration_email_verification:
        _register_unconfirmed(session, email, password_hash, name, ip=ip)
        return None, None
    existing = get_user_by_email(session, email)
    if existing is not None and registration_token and existing.status == UserStatus.pending_registration.value:
        # The token was mailed to this address, so its holder owns it: an unconfirmed registration (perhaps a
        # squatter's) gives way, and its mailed links stop working.
        return _activate_pending(session, existing, password_hash, name, ip=ip, user_agent=user_agent)
    if existing is not None:
        raise Conflict(ALREADY_REGISTERED)
    user = User(email=email, password_hash=password_hash, display_name=name)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same email registered by a parallel request a moment ago
        raise Conflict(ALREADY_REGISTERED) from None
    enqueue_mail(session, email, "welcome", {"display_name": user.display_name or email}, user_id=user.id)
    return start_session(session, user, ip=ip, user_agent=user_agent), user


def _activate_pending(
    session: Session, user: User, password_hash: str, name: str, *, ip: str | None, user_agent: str | None
) -> tuple[str, User]:
    from chat3d.db.models import AccountAction, ActionStatus, ActionType

    session.exec(
        update(AccountAction)
        .where(
            col(AccountAction.user_id) == user.id,
            col(AccountAction.type) == ActionType.email_verification.value,
            col(AccountAction.status) == ActionStatus.pending.value,
        )
        .values(status=ActionStatus.cancelled.value)
    )
    user.password_hash, user.display_name, user.status = password_hash, name, UserStatus.active.value
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    enqueue_mail(session, user.email, "welcome", {"display_name": user.display_name or user.email}, user_id=user.id)
    return start_session(session, user, ip=ip, user_agent=user_agent), user


def _register_unconfirmed(session: Session, email: str, password_hash: str, name: str, *, ip: str | None) -> None:
    """The mail does the talking: a confirmation link for a new (or still unconfirmed) address, a notice to the
    owner of a taken one. The caller's answer is the same in both cases."""
    from chat3d.domain.account_actions import create_email_verification
    from chat3d.domain.security_events import record_security_event

    user = get_user_by_email(session, email)
    if user is not None and user.status != UserStatus.pending_registration.value:
        record_security_event(session, "register.address_taken", user_id=user.id, email=email, ip=ip)
        since = utcnow() - timedelta(hours=24)
        told = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.to_email == email,
                OutboxMessage.template == "registration_attempt",
                OutboxMessage.created_at > since,
            )
        ).one()
        if not told:  # one notice a day is enough to warn the owner; more would be mail bombing
            enqueue_mail(session, email, "registration_attempt", {}, user_id=user.id)
        return
    if user is None:
        user = User(
            email=email, password_hash=NO_PASSWORD, display_name="", status=UserStatus.pending_registration.value
        )
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError:  # a parallel registration of the same address created the row a moment ago
            user = get_user_by_email(session, email)
            if user is None or user.status != UserStatus.pending_registration.value:
                return
    # The password chosen here takes effect only through this link: whoever confirms from the mailbox gets the
    # account with the password of the registration they confirm.
    create_email_verification(session, user, password_hash, name)


def email_for_registration_token(session: Session, raw: str) -> str | None:
    """The email a still-usable registration token is bound to (pre-fills the register page), else None."""
    token = session.exec(select(RegistrationToken).where(RegistrationToken.token_hash == hash_token(raw))).first()
    if token is None or token.revoked_at is not None or token.used_count >= token.max_uses:
        return None
    expires = token.expires_at if token.expires_at.tzinfo else token.expires_at.replace(tzinfo=utcnow().tzinfo)
    return token.email if expires > utcnow() else None

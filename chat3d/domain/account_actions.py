"""Email-confirmed account actions: password change and reset, email change, data export, deletion, reactivation.

Every sensitive change is a two-step affair. The request creates an `AccountAction` row holding only the
SHA-256 of a 32-byte random token and mails the raw token as a link. The link opens a page that explains
what will happen and asks for a click (mail scanners prefetch links, so a GET never changes anything);
the click confirms with the token. Tokens live 24 hours, are single use, and a newer request of the same
type cancels an older pending one. Every attempt to use a token is audited: refusals as security events
committed on their own (the refused request rolls back), completions as a security event in the same
transaction as the change.

Who may confirm: whoever holds the link, signed in or not (the link proves control of the mailbox), except
that a browser signed in as *another* user is refused, so nobody applies someone else's change by mistake.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.models import AccountAction, ActionStatus, ActionType, SecurityEvent, User, UserStatus, table_of, utcnow
from chat3d.domain import dates
from chat3d.domain.coerce import aware
from chat3d.domain.errors import Conflict, DomainError, Forbidden, InvalidInput
from chat3d.domain.export import EXPORT_QUEUED
from chat3d.domain.outbox import enqueue_mail
from chat3d.domain.passwords import check_password_rules, hash_password, verify_password
from chat3d.domain.security_events import record_security_event
from chat3d.domain.sessions import revoke_all_sessions, revoke_other_sessions
from chat3d.domain.tokens import hash_token, new_token
from chat3d.domain.users import (
    check_email,
    clean_line,
    ensure_not_last_admin,
    get_user_by_email,
    has_account,
    normalize_email,
)
from chat3d.events.store import record_event
from chat3d.events.types import ACCOUNT_STATUS_CHANGED
from chat3d.settings import get_settings

TOKEN_TTL = timedelta(hours=24)
REACTIVATION_WINDOW = timedelta(days=30)
SELF_DELETION = "self_deletion"
MAX_DISPLAY_NAME = 120

# Where each mail link points: the reset link opens the new-password form, every other one the confirm page.
CONFIRM_PATH = "/profile/actions/confirm"
RESET_PATH = "/reset-password"
REACTIVATE_PATH = "/reactivate"
_AA = table_of(AccountAction)

# The payload of a password action says which kind it is: a signed-in change carries the new hash already,
# a reset (forgot password, or triggered by an admin) asks for the new password on the confirm page.
MODE_CHANGE = "change"
MODE_RESET = "reset"

ACTION_LABELS = {
    ActionType.password_reset.value: "Change your password",
    ActionType.email_change.value: "Change your email address",
    ActionType.data_export.value: "Export your data",
    ActionType.account_delete.value: "Delete your account",
    ActionType.account_reactivate.value: "Reactivate your account",
    ActionType.email_verification.value: "Confirm your email address",
}
# At most this many registration confirmations to one unconfirmed address per TOKEN_TTL (no mail bombing).
MAX_VERIFICATION_MAILS = 3


class TokenRefused(DomainError):
    """A confirmation token that cannot be used; `reason` says why (for the page's next step)."""

    STATUS = {"invalid": 404, "used": 409, "expired": 410, "cancelled": 410, "wrong_user": 403, "not_applicable": 409}

    def __init__(self, reason: str, message: str, action_type: str | None = None):
        super().__init__(message, {"reason": reason, "type": action_type})
        self.reason = reason
        self.status = self.STATUS.get(reason, 400)


@dataclass
class ConfirmResult:
    """What a confirmation did, in words for the page plus machine-readable fields."""

    type: str
    message: str
    signed_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _link(path: str, token: str) -> str:
    return f"{get_settings().public_base_url}{path}?token={quote(token)}"


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- creating actions --------------------------------------------------------------------------------------


def _create_action(session: Session, user: User, action_type: ActionType, payload: dict[str, Any]) -> str:
    """Cancel the user's older pending action of this type and create a new one; returns the raw token."""
    session.execute(
        sa.update(_AA)
        .where(_AA.c.user_id == user.id, _AA.c.type == action_type.value, _AA.c.status == ActionStatus.pending.value)
        .values(status=ActionStatus.cancelled.value)
    )
    raw, token_hash = new_token()
    session.add(
        AccountAction(
            user_id=user.id,
            type=action_type.value,
            token_hash=token_hash,
            payload=payload,
            status=ActionStatus.pending.value,
            expires_at=utcnow() + TOKEN_TTL,
        )
    )
    session.flush()
    return raw


def _mail_context(user: User, **extra: Any) -> dict[str, Any]:
    return {"display_name": user.display_name or user.email, "hours": int(TOKEN_TTL.total_seconds() // 3600), **extra}


def _require_active(user: User) -> None:
    if user.status != UserStatus.active.value:
        raise Forbidden("This account is not active.")


def _check_current_password(session: Session, user: User, current_password: str, *, ip: str | None) -> None:
    if not verify_password(current_password or "", user.password_hash):
        record_security_event(session, "account_action.wrong_password", user_id=user.id, ip=ip)
        raise Forbidden("Your current password is not correct.")


def request_password_change(
    session: Session, user: User, current_password: str, new_password: str, *, ip: str | None = None
) -> None:
    """Signed in: check the current password and the new one, keep only its hash, mail a confirmation link."""
    _require_active(user)
    _check_current_password(session, user, current_password, ip=ip)
    check_password_rules(new_password)
    raw = _create_action(
        session, user, ActionType.password_reset, {"mode": MODE_CHANGE, "password_hash": hash_password(new_password)}
    )
    enqueue_mail(
        session,
        user.email,
        "password_change_confirm",
        _mail_context(user, link=_link(CONFIRM_PATH, raw)),
        user_id=user.id,
    )


def request_password_reset(session: Session, user: User, *, initiated_by_admin: uuid.UUID | None = None) -> None:
    """Forgot password, or an admin's "reset password": mail a link to a form that sets a new password.

    The caller decides whether to call this (the public route answers the same for unknown addresses).
    """
    raw = _create_action(
        session,
        user,
        ActionType.password_reset,
        {"mode": MODE_RESET, "initiated_by_admin": str(initiated_by_admin) if initiated_by_admin else None},
    )
    enqueue_mail(
        session,
        user.email,
        "password_reset",
        _mail_context(
            user,
            link=_link(RESET_PATH, raw),
            reason=(
                "An administrator started a password reset for your account."
                if initiated_by_admin
                else "Someone (hopefully you) asked to reset your password."
            ),
        ),
        user_id=user.id,
    )


def request_password_reset_by_email(session: Session, email: str, *, ip: str | None = None) -> None:
    """The public form: mail a reset link when an active account has this address; silent otherwise."""
    try:
        email = check_email(email)
    except InvalidInput:
        return
    user = get_user_by_email(session, email)
    if user is None or user.status != UserStatus.active.value:
        record_security_event(
            session, "password_reset.unknown_or_inactive", user_id=user.id if user else None, email=email, ip=ip
        )
        return
    request_password_reset(session, user)


def request_email_change(
    session: Session, user: User, new_email: str, current_password: str, *, ip: str | None = None
) -> None:
    """Mail a confirmation link to the new address and a notice to the old one."""
    _require_active(user)
    _check_current_password(session, user, current_password, ip=ip)
    new_email = check_email(new_email)
    if new_email == user.email:
        raise InvalidInput("This is already your email address.")
    if has_account(session, new_email):  # an unconfirmed registration of it does not count (issue 21)
        raise Conflict("Another account already uses this email address.")
    raw = _create_action(session, user, ActionType.email_change, {"new_email": new_email, "old_email": user.email})
    enqueue_mail(
        session,
        new_email,
        "email_change_confirm",
        _mail_context(user, link=_link(CONFIRM_PATH, raw), new_email=new_email, old_email=user.email),
        user_id=user.id,
    )
    enqueue_mail(
        session,
        user.email,
        "email_change_notice",
        _mail_context(user, new_email=mask_email(new_email), old_email=user.email),
        user_id=user.id,
    )


def create_email_verification(session: Session, user: User, password_hash: str, display_name: str) -> None:
    """Mail a link that confirms the address of a `pending_registration` account and activates it with this
    registration's password. Older links stay valid (each carries its own password), so someone registering
    the same address later cannot cancel the owner's link; a few per day at most."""
    since = utcnow() - TOKEN_TTL
    recent = session.execute(
        sa.select(sa.func.count())
        .select_from(_AA)
        .where(_AA.c.user_id == user.id, _AA.c.type == ActionType.email_verification.value, _AA.c.created_at > since)
    ).scalar_one()
    if recent >= MAX_VERIFICATION_MAILS:
        record_security_event(session, "register.verification_throttled", user_id=user.id, email=user.email)
        return
    raw, token_hash = new_token()
    session.add(
        AccountAction(
            user_id=user.id,
            type=ActionType.email_verification.value,
            token_hash=token_hash,
            payload={"password_hash": password_hash, "display_name": display_name},
            status=ActionStatus.pending.value,
            expires_at=utcnow() + TOKEN_TTL,
        )
    )
    session.flush()
    # No registrant-supplied text in this mail: the address is not confirmed yet, so it may not be theirs.
    enqueue_mail(
        session,
        user.email,
        "registration_confirm",
        {"link": _link(CONFIRM_PATH, raw), "hours": int(TOKEN_TTL.total_seconds() // 3600)},
        user_id=user.id,
    )


def request_data_export(session: Session, user: User) -> None:
    _require_active(user)
    raw = _create_action(session, user, ActionType.data_export, {})
    enqueue_mail(
        session, user.email, "data_export_confirm", _mail_context(user, link=_link(CONFIRM_PATH, raw)), user_id=user.id
    )


def request_account_deletion(session: Session, user: User, current_password: str, *, ip: str | None = None) -> None:
    _require_active(user)
    _check_current_password(session, user, current_password, ip=ip)
    ensure_not_last_admin(session, user)
    raw = _create_action(session, user, ActionType.account_delete, {})
    enqueue_mail(
        session,
        user.email,
        "account_delete_confirm",
        _mail_context(user, link=_link(CONFIRM_PATH, raw), days=REACTIVATION_WINDOW.days),
        user_id=user.id,
    )


def _self_deletion_until(user: User, now: datetime | None = None) -> datetime | None:
    """When a self-requested deletion still inside its window becomes final; None for anything else (an admin's
    suspension has no `deactivated_until`)."""
    until = aware(user.deactivated_until)
    if (
        user.status == UserStatus.deactivated.value
        and user.deactivation_reason == SELF_DELETION
        and until is not None
        and until > (now or utcnow())
    ):
        return until
    return None


def can_self_reactivate(user: User, now: datetime | None = None) -> bool:
    """Only a self-requested deletion still inside its window; an admin's suspension has no `deactivated_until`."""
    return _self_deletion_until(user, now) is not None


def request_reactivation(session: Session, email: str, *, ip: str | None = None) -> None:
    """The public form: mail a reactivation link when the address belongs to a self-deleted account in its window."""
    try:
        email = check_email(email)
    except InvalidInput:
        return
    user = get_user_by_email(session, email)
    until = _self_deletion_until(user) if user is not None else None
    if user is None or until is None:
        record_security_event(
            session, "reactivation.not_applicable", user_id=user.id if user else None, email=email, ip=ip
        )
        return
    raw = _create_action(session, user, ActionType.account_reactivate, {})
    enqueue_mail(
        session,
        user.email,
        "account_reactivate_confirm",
        _mail_context(user, link=_link(CONFIRM_PATH, raw), until=dates.long_stamp(until)),
        user_id=user.id,
    )


# --- looking at and confirming actions ------------------------------------------------------------------------


def mask_email(email: str) -> str:
    """`jane@example.com` → `j***@e***.com`: enough to recognise, not enough to harvest."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not host:
        host, dot, tld = tld, "", ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def _find(session: Session, raw_token: str, *, lock: bool):
    if not raw_token or len(raw_token) > 200:
        return None
    query = select(AccountAction).where(AccountAction.token_hash == hash_token(raw_token))
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def _effective_status(action, now: datetime) -> str:
    if action.status == ActionStatus.pending.value and aware(action.expires_at) <= now:
        return ActionStatus.expired.value
    return action.status


def preview_action(session: Session, raw_token: str) -> dict[str, Any]:
    """What a token is for, without changing anything: the landing pages show this before the Confirm button."""
    action = _find(session, raw_token, lock=False)
    if action is None:
        return {"type": None, "status": "invalid", "label": None, "needsPassword": False, "expiresAt": None}
    out: dict[str, Any] = {
        "type": action.type,
        "status": _effective_status(action, utcnow()),
        "label": ACTION_LABELS.get(action.type),
        "needsPassword": action.type == ActionType.password_reset.value and action.payload.get("mode") == MODE_RESET,
        "expiresAt": aware(action.expires_at).isoformat(),
    }
    if action.type == ActionType.email_change.value:
        out["newEmailMasked"] = mask_email(action.payload.get("new_email", ""))
    return out


_REFUSALS = {
    "invalid": "This link is not valid. Check that you opened the whole link from the mail, or start again.",
    "used": "This link has already been used.",
    "expired": "This link has expired. Links are valid for 24 hours; start again to get a new one.",
    "cancelled": "This link was replaced by a newer request. Use the link in the most recent mail.",
    "wrong_user": "This link belongs to another account. Sign out, then open the link again.",
}


def _refuse(session: Session, reason: str, action, *, ip: str | None, signed_in: User | None) -> TokenRefused:
    record_security_event(
        session,
        "account_action.refused",
        user_id=action.user_id if action is not None else None,
        ip=ip,
        details={
            "reason": reason,
            "type": action.type if action is not None else None,
            "signed_in": str(signed_in.id) if signed_in else None,
        },
    )
    return TokenRefused(reason, _REFUSALS[reason], action.type if action is not None else None)


def _claim(session: Session, raw_token: str, *, signed_in: User | None, ip: str | None):
    """Lock the pending action behind `raw_token` or raise TokenRefused (audited)."""
    action = _find(session, raw_token, lock=True)
    if action is None:
        raise _refuse(session, "invalid", None, ip=ip, signed_in=signed_in)
    status = _effective_status(action, utcnow())
    if status == ActionStatus.completed.value:
        raise _refuse(session, "used", action, ip=ip, signed_in=signed_in)
    if status == ActionStatus.cancelled.value:
        raise _refuse(session, "cancelled", action, ip=ip, signed_in=signed_in)
    if status == ActionStatus.expired.value:
        raise _refuse(session, "expired", action, ip=ip, signed_in=signed_in)
    if signed_in is not None and signed_in.id != action.user_id:
        raise _refuse(session, "wrong_user", action, ip=ip, signed_in=signed_in)
    # FOR NO KEY UPDATE: serialises confirmations of one account without blocking the foreign-key checks of
    # security events that other connections write about this user meanwhile (FOR UPDATE would deadlock them).
    user = session.exec(select(User).where(User.id == action.user_id).with_for_update(key_share=True)).first()
    if user is None:  # the row cascades with the user, so this is a race with the deletion worker
        raise _refuse(session, "invalid", None, ip=ip, signed_in=signed_in)
    return action, user


def _complete(session: Session, action, user: User, ip: str | None, **details: Any) -> None:
    action.status = ActionStatus.completed.value
    action.completed_at = utcnow()
    session.add(action)
    session.add(
        SecurityEvent(
            user_id=user.id,
            event_type="account_action.completed",
            ip=ip[:64] if ip else None,
            details={"type": action.type, "action_id": str(action.id), **details},
        )
    )
    session.flush()


def _not_applicable(session: Session, action, message: str, *, ip: str | None) -> TokenRefused:
    record_security_event(
        session,
        "account_action.refused",
        user_id=action.user_id,
        ip=ip,
        details={"reason": "not_applicable", "type": action.type},
    )
    return TokenRefused("not_applicable", message, action.type)


def confirm_action(
    session: Session,
    raw_token: str,
    *,
    signed_in: User | None = None,
    current_jti: str | None = None,
    ip: str | None = None,
) -> ConfirmResult:
    """Apply the action behind `raw_token` (the Confirm button). A password reset needs `confirm_password_reset`."""
    action, user = _claim(session, raw_token, signed_in=signed_in, ip=ip)
    kind = action.type
    if kind == ActionType.password_reset.value:
        if action.payload.get("mode") != MODE_CHANGE or not action.payload.get("password_hash"):
            raise _not_applicable(session, action, "This link sets a new password: open it on the reset page.", ip=ip)
        return _apply_password(session, action, user, action.payload["password_hash"], signed_in, current_jti, ip)
    if kind == ActionType.email_change.value:
        return _apply_email_change(session, action, user, ip, signed_in, current_jti)
    if kind == ActionType.data_export.value:
        _require_active_for(session, action, user, ip)
        action.payload = {**action.payload, "export_state": EXPORT_QUEUED}
        _complete(session, action, user, ip)
        return ConfirmResult(kind, "Your export is being prepared. We will email you a download link when it is ready.")
    if kind == ActionType.account_delete.value:
        return _apply_deletion(session, action, user, ip)
    if kind == ActionType.email_verification.value:
        return _apply_verification(session, action, user, ip)
    if kind == ActionType.account_reactivate.value:
        if not can_self_reactivate(user):
            raise _not_applicable(
                session,
                action,
                "This account cannot be reactivated with this link. If an administrator suspended it, contact them.",
                ip=ip,
            )
        _complete(session, action, user, ip)
        reactivate_user(session, user, by_admin=None)
        return ConfirmResult(kind, "Welcome back! Your account is active again; sign in to continue.")
    raise _not_applicable(session, action, "This link cannot be confirmed here.", ip=ip)


def _require_active_for(session: Session, action, user: User, ip: str | None) -> None:
    if user.status != UserStatus.active.value:
        raise _not_applicable(session, action, "This account is not active.", ip=ip)


def confirm_password_reset(
    session: Session, raw_token: str, new_password: str, *, signed_in: User | None = None, ip: str | None = None
) -> ConfirmResult:
    """Set a new password with a reset link (forgot password or admin-triggered); every session ends."""
    action, user = _claim(session, raw_token, signed_in=signed_in, ip=ip)
    if action.type != ActionType.password_reset.value or action.payload.get("mode") != MODE_RESET:
        raise _not_applicable(session, action, "This link is not a password reset link.", ip=ip)
    check_password_rules(new_password)
    return _apply_password(session, action, user, hash_password(new_password), None, None, ip)


def _apply_password(
    session: Session,
    action,
    user: User,
    password_hash: str,
    signed_in: User | None,
    current_jti: str | None,
    ip: str | None,
) -> ConfirmResult:
    user.password_hash = password_hash
    user.updated_at = utcnow()
    session.add(user)
    kept_jti = current_jti if signed_in is not None and signed_in.id == user.id else None  # the session to keep
    ended = revoke_other_sessions(session, user.id, kept_jti) if kept_jti else revoke_all_sessions(session, user.id)
    # A pending email change may come from whoever made the password change necessary: it no longer applies.
    session.execute(
        sa.update(_AA)
        .where(
            _AA.c.user_id == user.id,
            _AA.c.type == ActionType.email_change.value,
            _AA.c.status == ActionStatus.pending.value,
        )
        .values(status=ActionStatus.cancelled.value)
    )
    _complete(session, action, user, ip, sessions_ended=ended)
    enqueue_mail(session, user.email, "password_changed", _mail_context(user), user_id=user.id)
    if kept_jti:
        return ConfirmResult(action.type, "Your password is changed. Your other sessions were signed out.")
    return ConfirmResult(action.type, "Your password is changed. Sign in with your new password.", signed_out=True)


def _apply_email_change(
    session: Session, action, user: User, ip: str | None, signed_in: User | None = None, current_jti: str | None = None
) -> ConfirmResult:
    """Switch the address. Links mailed to the old address (a reset, an export...) stop working and every other
    session ends: whoever controlled the old mailbox or a stolen session keeps nothing."""
    _require_active_for(session, action, user, ip)
    new_email = normalize_email(action.payload.get("new_email", ""))
    taken = "Another account already uses this email address. Your address was not changed."
    other = get_user_by_email(session, new_email)
    if other is not None and other.id != user.id and other.status == UserStatus.pending_registration.value:
        # Someone registered this address without confirming it; its owner has just proven it: that goes.
        session.delete(other)
        session.flush()
        other = None
    if other is not None and other.id != user.id:
        record_security_event(
            session,
            "account_action.refused",
            user_id=user.id,
            ip=ip,
            details={"reason": "email_taken", "type": action.type},
        )
        raise Conflict(taken)
    old_email = user.email
    user.email = new_email
    user.updated_at = utcnow()
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except sa.exc.IntegrityError:  # another account took the address between our check and the write
        raise Conflict(taken) from None
    session.execute(
        sa.update(_AA)
        .where(_AA.c.user_id == user.id, _AA.c.status == ActionStatus.pending.value, _AA.c.id != action.id)
        .values(status=ActionStatus.cancelled.value)
    )
    kept_jti = current_jti if signed_in is not None and signed_in.id == user.id else None  # the session to keep
    ended = revoke_other_sessions(session, user.id, kept_jti) if kept_jti else revoke_all_sessions(session, user.id)
    _complete(session, action, user, ip, sessions_ended=ended)
    enqueue_mail(
        session,
        old_email,
        "email_changed_notice",
        _mail_context(user, new_email=mask_email(new_email)),
        user_id=user.id,
    )
    if kept_jti:
        return ConfirmResult(
            action.type,
            f"Your email address is now {new_email}. Your other sessions were signed out.",
            extra={"email": new_email},
        )
    return ConfirmResult(
        action.type,
        f"Your email address is now {new_email}. Sign in with it to continue.",
        signed_out=True,
        extra={"email": new_email},
    )


def _apply_verification(session: Session, action, user: User, ip: str | None) -> ConfirmResult:
    """The address is confirmed: the account becomes active with the password chosen in this registration."""
    if user.status != UserStatus.pending_registration.value:
        raise _not_applicable(session, action, "This address is already confirmed: sign in.", ip=ip)
    user.password_hash = action.payload.get("password_hash")
    user.display_name = clean_line(action.payload.get("display_name"))[:MAX_DISPLAY_NAME]
    user.status = UserStatus.active.value
    user.updated_at = utcnow()
    session.add(user)
    session.execute(
        sa.update(_AA)
        .where(_AA.c.user_id == user.id, _AA.c.status == ActionStatus.pending.value, _AA.c.id != action.id)
        .values(status=ActionStatus.cancelled.value)
    )
    _complete(session, action, user, ip)
    enqueue_mail(session, user.email, "welcome", {"display_name": user.display_name or user.email}, user_id=user.id)
    return ConfirmResult(
        action.type,
        "Your address is confirmed and your account is ready. Sign in to start.",
        extra={"email": user.email},
    )


def _apply_deletion(session: Session, action, user: User, ip: str | None) -> ConfirmResult:
    _require_active_for(session, action, user, ip)
    ensure_not_last_admin(session, user)
    now = utcnow()
    deletion_at = now + REACTIVATION_WINDOW
    user.status = UserStatus.deactivated.value
    user.deactivated_until = deletion_at
    user.deactivation_reason = SELF_DELETION
    user.deactivated_by = user.id
    user.updated_at = now
    session.add(user)
    # Before the revocations, so each open stream delivers it before ending on its session's revocation.
    record_event(
        session,
        user.id,
        ACCOUNT_STATUS_CHANGED,
        {"status": user.status, "reason": SELF_DELETION, "deactivatedUntil": aware(deletion_at).isoformat()},
    )
    ended = revoke_all_sessions(session, user.id)
    # Whatever else was pending (an email change, an export) no longer applies.
    session.execute(
        sa.update(_AA)
        .where(_AA.c.user_id == user.id, _AA.c.status == ActionStatus.pending.value, _AA.c.id != action.id)
        .values(status=ActionStatus.cancelled.value)
    )
    _complete(session, action, user, ip, sessions_ended=ended)
    until = dates.long_stamp(deletion_at)
    enqueue_mail(
        session,
        user.email,
        "account_deleted",
        _mail_context(user, until=until, reactivate_url=f"{get_settings().public_base_url}{REACTIVATE_PATH}"),
        user_id=user.id,
    )
    return ConfirmResult(
        action.type,
        f"Your account is deactivated and will be deleted for good on {until}. Until then you can reactivate it "
        f"from the reactivation page. You have been signed out everywhere.",
        signed_out=True,
        extra={"deactivatedUntil": aware(deletion_at).isoformat()},
    )


def reactivate_user(session: Session, user: User, *, by_admin: uuid.UUID | None) -> None:
    """Make a deactivated account active again.

    `by_admin=None` is the self-service path: only a self-requested deletion still inside its window.
    An admin (pass their id) may lift either kind, a self-deletion or a suspension.
    """
    if user.status != UserStatus.deactivated.value:
        raise Conflict("This account is not deactivated.")
    if by_admin is None and not can_self_reactivate(user):
        raise Forbidden("Only an administrator can reactivate this account.")
    previous = {
        "reason": user.deactivation_reason,
        "until": aware(user.deactivated_until).isoformat() if user.deactivated_until else None,
    }
    user.status = UserStatus.active.value
    user.deactivated_until = None
    user.deactivation_reason = None
    user.deactivated_by = None
    user.updated_at = utcnow()
    session.add(user)
    session.add(
        SecurityEvent(
            user_id=user.id,
            event_type="account.reactivated",
            details={"by_admin": str(by_admin) if by_admin else None, "previous": previous},
        )
    )
    session.flush()
    record_event(session, user.id, ACCOUNT_STATUS_CHANGED, {"status": user.status, "reason": None})


# --- the profile itself -----------------------------------------------------------------------------------------


def update_profile(
    session: Session, user: User, *, display_name: str | None = None, marketing_consent: bool | None = None
) -> User:
    """Change the display name and/or the marketing consent (no confirmation mail needed)."""
    _require_active(user)
    if display_name is not None:
        cleaned = clean_line(display_name)
        if len(cleaned) > MAX_DISPLAY_NAME:
            raise InvalidInput(f"A display name can have at most {MAX_DISPLAY_NAME} characters.")
        user.display_name = cleaned
    if marketing_consent is not None:
        user.marketing_consent = bool(marketing_consent)
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def pending_actions(session: Session, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The user's open requests (what the profile page shows as "waiting for your confirmation")."""
    now = utcnow()
    rows = session.exec(
        select(AccountAction)
        .where(AccountAction.user_id == user_id, AccountAction.status == ActionStatus.pending.value)
        .order_by(col(AccountAction.created_at).desc())
    ).all()
    return [
        {
            "type": r.type,
            "label": ACTION_LABELS.get(r.type),
            "createdAt": aware(r.created_at).isoformat(),
            "expiresAt": aware(r.expires_at).isoformat(),
        }
        for r in rows
        if aware(r.expires_at) > now
    ]


def expire_stale_actions(session: Session) -> int:
    """Mark pending actions past their expiry as expired (housekeeping; confirmation checks the time anyway)."""
    t = _AA
    result = session.exec(
        sa.update(t)
        .where(t.c.status == ActionStatus.pending.value, t.c.expires_at <= utcnow())
        .values(status=ActionStatus.expired.value)
    )
    return int(result.rowcount or 0)


def self_deletion_login_message(user: User) -> str | None:
    """The login answer for a correct password on a self-deleted account still in its window, else None."""
    until = _self_deletion_until(user)
    if until is None:
        return None
    return (
        f"This account is scheduled for deletion on {dates.long_stamp(until)}. "
        f"To keep it, reactivate it at {REACTIVATE_PATH} (we email you a confirmation link)."
    )

"""The waitlist: double opt-in, then an admin approves (a registration link) or rejects (a polite mail).

Flow: `join_waitlist` → confirmation mail (link valid 24 h, single use, only its SHA-256 stored) →
`confirm_email` → `pending_admin_approval` → `approve_entry` (registration token, source waitlist, 7 days)
or `reject_entry`.

Nothing here tells a caller whether an email already has an account or an entry: `join_waitlist` returns
nothing and always queues exactly one mail (to an existing account a harmless "you already have an
account" notice). The status link carries a signed token, so only the mailbox owner can look.

Marketing consent can be withdrawn from any marketing-bearing mail: the footer links to a signed,
stateless token naming the email (`unsubscribe_token`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, update

from chat3d.db.models import (
    Invitation,
    InvitationStatus,
    RegistrationToken,
    TokenSource,
    User,
    WaitlistConfirmationToken,
    WaitlistEntry,
    WaitlistStatus,
    utcnow,
)
from chat3d.domain.coerce import aware
from chat3d.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from chat3d.domain.outbox import enqueue_mail
from chat3d.domain.pagination import paginate
from chat3d.domain.ratelimit import enforce_rate_limit
from chat3d.domain.tokens import hash_token, new_token
from chat3d.domain.users import check_email, normalize_email
from chat3d.settings import get_settings

CONFIRM_TTL = timedelta(hours=24)
REGISTRATION_TTL = timedelta(days=7)
CONFIRM_REFUSED = (
    "This confirmation link is invalid, expired or already used. Join the waitlist again to get a new one."
)
STATUS_REFUSED = "This status link is invalid."
JOIN_ANSWER = "Thanks! Check your inbox: we sent you an email to confirm your address."


# --- signed tokens (status and unsubscribe links) ----------------------------------------------------------


def _sign(purpose: str, value: str) -> str:
    from chat3d.domain.keys import LINKS
    from chat3d.domain.keys import key as deployment_key

    key = hashlib.sha256(("chat3d:" + purpose + ":" + deployment_key(LINKS)).encode()).digest()
    mac = hmac.new(key, value.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _pack(purpose: str, value: str) -> str:
    body = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"{body}.{_sign(purpose, value)}"


def _unpack(purpose: str, token: str) -> str | None:
    body, _, mac = (token or "").strip().partition(".")
    if not body or not mac:
        return None
    try:
        value = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if hmac.compare_digest(mac, _sign(purpose, value)) else None


def status_token(entry: WaitlistEntry) -> str:
    return _pack("waitlist-status", str(entry.id))


def unsubscribe_token(email: str) -> str:
    return _pack("unsubscribe", normalize_email(email))


def status_url(entry: WaitlistEntry) -> str:
    return f"{get_settings().public_base_url}/waitlist/status?token={status_token(entry)}"


def unsubscribe_url(email: str) -> str:
    return f"{get_settings().public_base_url}/api/waitlist/unsubscribe?token={quote(unsubscribe_token(email))}"


def confirm_url(raw: str) -> str:
    return f"{get_settings().public_base_url}/waitlist/confirm?token={raw}"


def register_url(raw: str) -> str:
    return f"{get_settings().public_base_url}/register?token={raw}"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "•" * max(1, min(len(local) - 1, 6)) + "@" + domain) if domain else "•••"


# --- mail ----------------------------------------------------------------------------------------------


def _send(session: Session, entry: WaitlistEntry, template: str, context: dict) -> None:
    """Waitlist mail; to someone who agreed to news it carries the unsubscribe footer."""
    marketing = bool(entry.marketing_consent)
    if marketing:
        context = {**context, "unsubscribe_url": unsubscribe_url(entry.email)}
    enqueue_mail(session, entry.email, template, context, marketing=marketing)


def issue_confirmation(session: Session, entry: WaitlistEntry) -> str:
    """A new single-use confirmation token for `entry`; returns the raw token (only its hash is kept)."""
    raw, digest = new_token()
    session.add(WaitlistConfirmationToken(entry_id=entry.id, token_hash=digest, expires_at=utcnow() + CONFIRM_TTL))
    session.flush()
    return raw


def send_confirmation(session: Session, entry: WaitlistEntry, *, template: str = "waitlist_confirm", **context) -> str:
    raw = issue_confirmation(session, entry)
    _send(session, entry, template, {"confirm_url": confirm_url(raw), **context})
    return raw


def expire_confirmations(session: Session, entry_id: uuid.UUID) -> None:
    """Make every unused confirmation link of an entry unusable (a revoked invitation's link)."""
    now = utcnow()
    session.exec(
        update(WaitlistConfirmationToken)
        .where(
            col(WaitlistConfirmationToken.entry_id) == entry_id,
            col(WaitlistConfirmationToken.consumed_at).is_(None),
            col(WaitlistConfirmationToken.expires_at) > now,
        )
        .values(expires_at=now)
    )


# --- joining ---------------------------------------------------------------------------------------------


def get_or_create_entry(
    session: Session, email: str, *, marketing_consent: bool = False, invited_by: uuid.UUID | None = None
) -> tuple[WaitlistEntry, bool]:
    """The entry for `email`, locked for this transaction, created when missing; returns (entry, created)."""
    query = select(WaitlistEntry).where(WaitlistEntry.email == email).with_for_update()
    entry = session.exec(query).first()
    if entry is not None:
        return entry, False
    entry = WaitlistEntry(email=email, marketing_consent=marketing_consent, invited_by=invited_by)
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:  # a parallel join of the same email won; use its row
        entry = session.exec(query).one()
        return entry, False
    return entry, True


def join_waitlist(session: Session, email: str, marketing_consent: bool = False, *, ip: str | None = None) -> None:
    """Ask to join. Always answers the same way and queues one mail, whatever the email's history:

    - no entry: a new entry and a confirmation link;
    - entry waiting for its confirmation: a fresh link (the entry is not reset);
    - entry confirmed, approved or rejected: a notice with the status link (nothing changes);
    - an existing account: a harmless "you already have an account" notice, and no entry.
    """
    enforce_rate_limit(session, "waitlist", get_settings().rate_limit_register, ip or "-", ip=ip)
    email = check_email(email)
    from chat3d.domain.users import has_account

    if has_account(session, email):  # an unconfirmed registration is not an account (issue 21)
        enqueue_mail(
            session, email, "waitlist_account_exists", {"login_url": f"{get_settings().public_base_url}/login"}
        )
        return
    entry, created = get_or_create_entry(session, email, marketing_consent=marketing_consent)
    if not created and marketing_consent and not entry.marketing_consent:
        entry.marketing_consent = True  # agreeing again is a fresh, explicit opt-in; withdrawing is the footer link
        entry.updated_at = utcnow()
        session.add(entry)
    if entry.status == WaitlistStatus.pending_email_confirmation.value:
        send_confirmation(session, entry)
    else:
        _send(session, entry, "waitlist_status", {"status_url": status_url(entry)})


# --- confirming ------------------------------------------------------------------------------------------


def entry_for_confirmation(session: Session, raw: str) -> WaitlistEntry | None:
    """The entry a still-usable confirmation token belongs to (the confirm page's preview); changes nothing."""
    token = session.exec(
        select(WaitlistConfirmationToken).where(WaitlistConfirmationToken.token_hash == hash_token(raw or ""))
    ).first()
    if token is None or token.consumed_at is not None or aware(token.expires_at) <= utcnow():
        return None
    return session.get(WaitlistEntry, token.entry_id)


def _refused_confirmation(session: Session, raw: str, ip: str | None) -> Forbidden:
    """Record why a confirmation link was refused (forged, expired or reused; never the token) and say no."""
    from chat3d.domain.security_events import record_security_event

    token = session.exec(
        select(WaitlistConfirmationToken).where(WaitlistConfirmationToken.token_hash == hash_token(raw or ""))
    ).first()
    if token is None:
        reason, details = "unknown token", {}
    else:
        reason = "reused" if token.consumed_at is not None else "expired"
        details = {"tokenId": str(token.id), "entryId": str(token.entry_id)}
    entry = session.get(WaitlistEntry, token.entry_id) if token is not None else None
    record_security_event(
        session,
        "waitlist_token.refused",
        email=entry.email if entry else None,
        ip=ip,
        details={"reason": reason, **details},
    )
    return Forbidden(CONFIRM_REFUSED)


def confirm_email(session: Session, raw: str, *, ip: str | None = None) -> WaitlistEntry:
    """Use a confirmation link once (one conditional UPDATE) and move the entry to pending_admin_approval.

    Both outcomes leave a security event (`waitlist_token.consumed` / `waitlist_token.refused`): who used
    which link, and attempts with forged, expired or reused ones; never the token itself.
    """
    from chat3d.domain.security_events import record_in_transaction

    now = utcnow()
    entry_id = session.exec(
        update(WaitlistConfirmationToken)
        .where(
            col(WaitlistConfirmationToken.token_hash) == hash_token(raw or ""),
            col(WaitlistConfirmationToken.consumed_at).is_(None),
            col(WaitlistConfirmationToken.expires_at) > now,
        )
        .values(consumed_at=now)
        .returning(col(WaitlistConfirmationToken.entry_id))
    ).scalar_one_or_none()
    if entry_id is None:
        raise _refused_confirmation(session, raw, ip)
    entry = session.exec(select(WaitlistEntry).where(WaitlistEntry.id == entry_id).with_for_update()).one()
    record_in_transaction(
        session, "waitlist_token.consumed", email=entry.email, ip=ip, details={"entryId": str(entry.id)}
    )
    if entry.status == WaitlistStatus.pending_email_confirmation.value:
        entry.status = WaitlistStatus.pending_admin_approval.value
        entry.email_confirmed_at = now
        entry.updated_at = now
        session.add(entry)
        session.flush()
        _notify_admins(session, entry)
    return entry


def _notify_admins(session: Session, entry: WaitlistEntry) -> None:
    from chat3d.events.store import record_for_admins
    from chat3d.events.types import NOTIFICATION_CREATED

    record_for_admins(
        session,
        NOTIFICATION_CREATED,
        {
            "kind": "waitlist.pending",
            "title": "A waitlist request awaits approval",
            "body": entry.email,
            "link": "/admin?tab=waitlist&status=pending_admin_approval",
            "entryId": str(entry.id),
        },
    )


def _waitlist_changed(session: Session, admin: User, action: str, entry_ids: list[uuid.UUID]) -> None:
    """Tell every admin's open console that entries changed (it reloads its waitlist view)."""
    from chat3d.events.store import record_for_admins
    from chat3d.events.types import ADMIN_WAITLIST_UPDATED

    record_for_admins(
        session, ADMIN_WAITLIST_UPDATED, {"action": action, "entryIds": [str(i) for i in entry_ids], "by": admin.email}
    )


def entry_from_status_token(session: Session, token: str) -> WaitlistEntry:
    value = _unpack("waitlist-status", token)
    try:
        entry = session.get(WaitlistEntry, uuid.UUID(value)) if value else None
    except ValueError:
        entry = None
    if entry is None:
        raise NotFound(STATUS_REFUSED)
    return entry


@dataclass
class WaitlistStatusView:
    status: str
    email: str
    created_at: datetime
    email_confirmed_at: datetime | None
    decided_at: datetime | None


def status_view(entry: WaitlistEntry) -> WaitlistStatusView:
    return WaitlistStatusView(
        status=entry.status,
        email=mask_email(entry.email),
        created_at=entry.created_at,
        email_confirmed_at=entry.email_confirmed_at,
        decided_at=entry.approved_at or entry.rejected_at,
    )


# --- marketing consent -------------------------------------------------------------------------------------


def withdraw_marketing_consent(session: Session, token: str) -> str:
    """Turn off news for the email a signed unsubscribe token names (entry and account); returns the email."""
    email = _unpack("unsubscribe", token)
    if not email:
        raise NotFound("This unsubscribe link is invalid.")
    now = utcnow()
    session.exec(
        update(WaitlistEntry).where(col(WaitlistEntry.email) == email).values(marketing_consent=False, updated_at=now)
    )
    session.exec(update(User).where(col(User.email) == email).values(marketing_consent=False, updated_at=now))
    return email


# --- moderation (admins) -----------------------------------------------------------------------------------


def _entry_for_update(session: Session, entry_id: uuid.UUID | str) -> WaitlistEntry:
    try:
        eid = entry_id if isinstance(entry_id, uuid.UUID) else uuid.UUID(str(entry_id))
    except ValueError:
        raise NotFound("No such waitlist entry.") from None
    entry = session.exec(select(WaitlistEntry).where(WaitlistEntry.id == eid).with_for_update()).first()
    if entry is None:
        raise NotFound("No such waitlist entry.")
    return entry


def _approve(session: Session, admin: User, entry: WaitlistEntry) -> None:
    from chat3d.domain.registration import issue_registration_token

    if entry.status != WaitlistStatus.pending_admin_approval.value:
        raise Conflict(
            "Only entries whose email is confirmed and that wait for approval can be approved "
            f"(this one is {entry.status.replace('_', ' ')})."
        )
    now = utcnow()
    raw = issue_registration_token(
        session,
        entry.email,
        TokenSource.waitlist,
        invited_by=entry.invited_by,
        ttl=REGISTRATION_TTL,
        waitlist_entry_id=entry.id,
    )
    token_id = session.exec(select(RegistrationToken.id).where(RegistrationToken.token_hash == hash_token(raw))).one()
    entry.status = WaitlistStatus.approved.value
    entry.approved_by = admin.id
    entry.approved_at = now
    entry.updated_at = now
    session.add(entry)
    # An invitee's invitation follows: consuming this token marks it accepted (registration.py).
    from chat3d.domain.invitations import tell_inviters

    moved = session.exec(
        update(Invitation)
        .where(
            col(Invitation.waitlist_entry_id) == entry.id, col(Invitation.status) == InvitationStatus.waitlisted.value
        )
        .values(status=InvitationStatus.registration_sent.value, registration_token_id=token_id, updated_at=now)
        .returning(col(Invitation.inviter_id), col(Invitation.id), col(Invitation.email))
    ).all()
    tell_inviters(session, [(r[0], r[1], r[2], InvitationStatus.registration_sent.value) for r in moved])
    _send(session, entry, "waitlist_approved", {"register_url": register_url(raw)})


def approve_entry(session: Session, admin: User, entry_id: uuid.UUID | str, *, ip: str | None = None) -> WaitlistEntry:
    from chat3d.domain.admin import audit

    entry = _entry_for_update(session, entry_id)
    _approve(session, admin, entry)
    audit(session, admin, "waitlist.approve", "waitlist_entry", entry.id, {"email": entry.email}, ip=ip)
    session.flush()
    _waitlist_changed(session, admin, "approve", [entry.id])
    return entry


def reject_entry(session: Session, admin: User, entry_id: uuid.UUID | str, *, ip: str | None = None) -> WaitlistEntry:
    from chat3d.domain.admin import audit

    entry = _entry_for_update(session, entry_id)
    if entry.status not in (
        WaitlistStatus.pending_admin_approval.value,
        WaitlistStatus.pending_email_confirmation.value,
    ):
        raise Conflict(f"Only pending entries can be rejected (this one is {entry.status}).")
    now = utcnow()
    previous = entry.status
    entry.status = WaitlistStatus.rejected.value
    entry.rejected_at = now
    entry.updated_at = now
    session.add(entry)
    expire_confirmations(session, entry.id)
    # The inviter's invitation stops being live (and stops counting against their quota).
    from chat3d.domain.invitations import _set_status, tell_inviters

    tell_inviters(
        session,
        _set_status(
            session,
            [
                Invitation.waitlist_entry_id == entry.id,
                col(Invitation.status).in_([InvitationStatus.waitlisted.value, InvitationStatus.pending.value]),
            ],
            InvitationStatus.revoked.value,
        ),
    )
    if previous == WaitlistStatus.pending_admin_approval.value:  # an unconfirmed address gets no mail
        _send(session, entry, "waitlist_rejected", {})
    audit(session, admin, "waitlist.reject", "waitlist_entry", entry.id, {"email": entry.email, "was": previous}, ip=ip)
    session.flush()
    _waitlist_changed(session, admin, "reject", [entry.id])
    return entry


@dataclass
class BulkResult:
    approved: list[uuid.UUID]
    skipped: list[dict]


def bulk_approve(
    session: Session, admin: User, entry_ids: list[uuid.UUID | str], *, ip: str | None = None
) -> BulkResult:
    """Approve each entry that waits for approval; the others are reported as skipped with the reason."""
    from chat3d.domain.admin import audit

    if not entry_ids:
        raise InvalidInput("Select at least one entry.")
    if len(entry_ids) > 500:
        raise InvalidInput("At most 500 entries at once.")
    result = BulkResult(approved=[], skipped=[])
    for raw_id in dict.fromkeys(str(i) for i in entry_ids):
        try:
            entry = _entry_for_update(session, raw_id)
            _approve(session, admin, entry)
        except (NotFound, Conflict) as exc:
            result.skipped.append({"id": raw_id, "reason": exc.message})
            continue
        result.approved.append(entry.id)
    audit(
        session,
        admin,
        "waitlist.bulk_approve",
        "waitlist_entry",
        None,
        {"approved": [str(i) for i in result.approved], "skipped": result.skipped},
        ip=ip,
    )
    session.flush()
    if result.approved:
        _waitlist_changed(session, admin, "approve", result.approved)
    return result


def list_entries(
    session: Session, *, status: str | None = None, search: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[WaitlistEntry], int]:
    query = select(WaitlistEntry)
    if status:
        try:
            query = query.where(WaitlistEntry.status == WaitlistStatus(status).value)
        except ValueError:
            raise InvalidInput(f"Unknown waitlist status {status!r}.") from None
    if search.strip():
        query = query.where(func.lower(WaitlistEntry.email).contains(search.strip().lower(), autoescape=True))
    return paginate(session, query, col(WaitlistEntry.created_at).desc(), WaitlistEntry.id, limit=limit, offset=offset)

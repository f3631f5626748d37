"""Invitations: a user invites people by email, within a quota, in one of two policy modes.

- Direct mode (`invitation_waitlist_required` off): a registration link (source user_invite, or
  admin_invite for admins) is mailed; the invitation is `registration_sent` and linked to its token, so
  consuming the token marks it accepted (registration.py).
- Waitlist mode: the invitee gets a waitlist confirmation link (their own opt-in); confirming puts them
  in `pending_admin_approval` marked `invited_by` the inviter. The invitation is `waitlisted` until an
  admin approves (then `registration_sent`) or rejects (then `revoked`).

The quota counts invitation *mails*: every send is a row in `invitation_sends` (re-invites included, whatever
became of the invitation: revoked, expired, accepted), and a user may send `invitation_quota_per_user` of them
in any 30 days (admins are not bound). Whoever sent it, one address gets at most one invitation mail per 24
hours. The inviter's row is locked first (and, on PostgreSQL, each recipient's advisory lock), so parallel
requests count one after another. A batch is all or nothing. Inviting someone who already has an account looks
exactly like any other invitation to the inviter (and counts the same), but sends them nothing.

The inviter's name is their own text: it stays out of the subject, and in the body its dots, slashes, colons
and @ are replaced by look-alikes so no mail client turns it into a link.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select, update

from chat3d.db.models import (
    Invitation,
    InvitationSend,
    InvitationStatus,
    RegistrationToken,
    Role,
    TokenSource,
    User,
    WaitlistEntry,
    WaitlistStatus,
    utcnow,
)
from chat3d.domain import dates, users
from chat3d.domain.coerce import aware
from chat3d.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from chat3d.domain.outbox import enqueue_mail
from chat3d.domain.pagination import paginate
from chat3d.domain.policy import get_app_settings
from chat3d.domain.registration import issue_registration_token
from chat3d.domain.tokens import hash_token
from chat3d.domain.users import check_email, clean_line, lock_user
from chat3d.domain.waitlist import (
    REGISTRATION_TTL,
    expire_confirmations,
    get_or_create_entry,
    register_url,
    send_confirmation,
)

LIVE = (InvitationStatus.pending.value, InvitationStatus.waitlisted.value, InvitationStatus.registration_sent.value)
MAX_BATCH = 50
QUOTA_WINDOW = timedelta(days=30)
RECIPIENT_WINDOW = timedelta(hours=24)
# Characters that make mail clients see a link, and look-alikes that do not.
_INERT = str.maketrans({".": "\u2024", "@": "\uff20", "/": "\u2215", ":": "\u2236"})


def inert(text: str) -> str:
    """User text for a mail body that no client can linkify (one line, no control characters)."""
    return clean_line(text).translate(_INERT)


def _is_admin(user: User) -> bool:
    return user.role == Role.admin.value


@dataclass
class Usage:
    used: int  # invitation mails sent in the last 30 days
    quota: int | None  # None: not quota-bound (admins)
    enabled: bool
    waitlist_required: bool
    next_at: datetime | None = None  # when the oldest counted mail leaves the window (one more becomes free)

    @property
    def remaining(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.used)


_BELL = {
    InvitationStatus.accepted.value: ("invitation.accepted", "{email} accepted your invitation"),
    InvitationStatus.expired.value: ("invitation.expired", "Your invitation to {email} expired"),
}


def tell_inviters(session: Session, changed: list[tuple[uuid.UUID, uuid.UUID, str, str]]) -> None:
    """Record `invitation.updated` for each (inviter id, invitation id, email, new status), in the caller's
    transaction (durable and replayable); accepted and expired ones also ring the inviter's bell."""
    from chat3d.events.store import record_many
    from chat3d.events.types import INVITATION_UPDATED, NOTIFICATION_CREATED

    events = []
    for inviter_id, inv_id, email, status in changed:
        events.append((inviter_id, INVITATION_UPDATED, {"invitationId": str(inv_id), "email": email, "status": status}))
        if status in _BELL:
            kind, title = _BELL[status]
            events.append(
                (
                    inviter_id,
                    NOTIFICATION_CREATED,
                    {
                        "kind": kind,
                        "title": title.format(email=email),
                        "body": email,
                        "link": "/invitations",
                        "invitationId": str(inv_id),
                    },
                )
            )
    if events:
        record_many(session, events)


def _set_status(session: Session, where: list, status: str) -> list[tuple[uuid.UUID, uuid.UUID, str, str]]:
    """UPDATE the matching invitations to `status`; returns what changed, for `tell_inviters`."""
    rows = session.exec(
        update(Invitation)
        .where(*where)
        .values(status=status, updated_at=utcnow())
        .returning(col(Invitation.inviter_id), col(Invitation.id), col(Invitation.email))
    ).all()
    return [(r[0], r[1], r[2], status) for r in rows]


def expire_stale(session: Session, inviter_id: uuid.UUID | None = None) -> int:
    """Invitations whose registration link ran out are `expired` (and stop counting against the quota).

    Runs when the inviter's list or quota is read and, for everyone (`inviter_id` None), in the worker's
    retention sweep; whichever notices first records the event. Returns how many expired."""
    now = utcnow()
    stale = select(RegistrationToken.id).where(RegistrationToken.expires_at <= now, RegistrationToken.used_count == 0)
    where = [
        Invitation.status == InvitationStatus.registration_sent.value,
        col(Invitation.registration_token_id).in_(stale),
    ]
    if inviter_id is not None:
        where.append(Invitation.inviter_id == inviter_id)
    changed = _set_status(session, where, InvitationStatus.expired.value)
    tell_inviters(session, changed)
    return len(changed)


def _sent(session: Session, inviter_id: uuid.UUID) -> tuple[int, datetime | None]:
    """(mails this user sent in the quota window, when the oldest of them leaves it)."""
    count, oldest = session.exec(
        select(func.count(), func.min(InvitationSend.sent_at)).where(
            InvitationSend.inviter_id == inviter_id, InvitationSend.sent_at > utcnow() - QUOTA_WINDOW
        )
    ).one()
    return int(count), (aware(oldest) + QUOTA_WINDOW if oldest else None)


def usage(session: Session, user: User) -> Usage:
    policy = get_app_settings(session)
    expire_stale(session, user.id)
    used, next_at = _sent(session, user.id)
    return Usage(
        used=used,
        quota=None if _is_admin(user) else policy.invitation_quota_per_user,
        enabled=policy.invitations_enabled or _is_admin(user),
        waitlist_required=policy.invitation_waitlist_required,
        next_at=next_at,
    )


def list_invitations(session: Session, user: User, *, limit: int = 50, offset: int = 0) -> tuple[list[Invitation], int]:
    expire_stale(session, user.id)
    query = select(Invitation).where(Invitation.inviter_id == user.id)
    return paginate(session, query, col(Invitation.created_at).desc(), Invitation.id, limit=limit, offset=offset)


def _clean_emails(emails: list[str], inviter: User) -> list[str]:
    if not isinstance(emails, list) or not emails:
        raise InvalidInput("Enter at least one email address.")
    if len(emails) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} addresses at once.")
    clean: list[str] = []
    bad: list[str] = []
    for raw in emails:
        try:
            clean.append(check_email(str(raw)))
        except InvalidInput:
            bad.append(str(raw)[:80])
    if bad:
        raise InvalidInput(f"Not a valid email address: {', '.join(bad)}.", {"invalid": bad})
    clean = list(dict.fromkeys(clean))
    if inviter.email in clean:
        raise InvalidInput("You cannot invite yourself.")
    return clean


def create_invitations(
    session: Session, inviter: User, emails: list[str], *, ip: str | None = None
) -> list[Invitation]:
    """Invite every address or none (any refusal raises before a single mail is queued)."""
    policy = get_app_settings(session)
    admin = _is_admin(inviter)
    if not policy.invitations_enabled and not admin:
        raise Forbidden("Invitations are turned off at the moment.")
    clean = _clean_emails(emails, inviter)
    # Serialise this inviter's requests (and, on PostgreSQL, everyone's mails to these recipients): the counts
    # below see every earlier committed send.
    lock_user(session, inviter.id)
    locked = session.get(User, inviter.id)
    if locked is None:  # deleted since the request began
        raise NotFound("This account no longer exists.")
    inviter = locked
    if session.get_bind().dialect.name == "postgresql":
        for email in sorted(clean):
            session.exec(select(func.pg_advisory_xact_lock(zlib.crc32(email.encode()))))
    expire_stale(session, inviter.id)
    existing = {
        inv.email: inv
        for inv in session.exec(
            select(Invitation).where(Invitation.inviter_id == inviter.id, col(Invitation.email).in_(clean))
        ).all()
    }
    duplicates = [e for e in clean if e in existing and existing[e].status in LIVE]
    if duplicates:
        raise Conflict(f"Already invited: {', '.join(duplicates)}.", {"duplicates": duplicates})
    now = utcnow()
    recent = sorted(
        set(
            session.exec(
                select(InvitationSend.recipient).where(
                    col(InvitationSend.recipient).in_(clean), InvitationSend.sent_at > now - RECIPIENT_WINDOW
                )
            ).all()
        )
    )
    if recent:
        raise Conflict(
            f"An invitation was mailed to {', '.join(recent)} in the last 24 hours; try again tomorrow.",
            {"recent": recent},
        )
    if not admin:
        used, next_at = _sent(session, inviter.id)
        quota = policy.invitation_quota_per_user
        if used + len(clean) > quota:
            left = max(0, quota - used)
            when = f", next on {dates.long_day(next_at)}" if next_at else ""
            raise Conflict(
                f"That would exceed your invitation quota: {quota} mails per 30 days, {left} left{when}.",
                {"used": used, "quota": quota, "left": left, "nextAt": next_at.isoformat() if next_at else None},
            )
    source = TokenSource.admin_invite if admin else TokenSource.user_invite
    inviter_name = inert(inviter.display_name or inviter.email)
    created: list[Invitation] = []
    for email in clean:
        inv = existing.get(email) or Invitation(inviter_id=inviter.id, email=email)
        inv.registration_token_id = None
        inv.waitlist_entry_id = None
        inv.updated_at = utcnow()
        has_account = users.has_account(session, email)
        if policy.invitation_waitlist_required and not admin:
            inv.status = InvitationStatus.waitlisted.value
            if not has_account:
                _invite_through_waitlist(session, inv, inviter, inviter_name)
        else:
            inv.status = InvitationStatus.registration_sent.value
            if not has_account:
                raw = issue_registration_token(session, email, source, invited_by=inviter.id, ttl=REGISTRATION_TTL)
                inv.registration_token_id = session.exec(
                    select(RegistrationToken.id).where(RegistrationToken.token_hash == hash_token(raw))
                ).one()
                enqueue_mail(
                    session, email, "invitation", {"inviter_name": inviter_name, "register_url": register_url(raw)}
                )
        session.add(inv)
        # Counted whether or not a mail left (an existing account gets none): the inviter cannot tell the difference.
        session.add(InvitationSend(inviter_id=inviter.id, recipient=email, sent_at=now))
        created.append(inv)
    session.flush()
    if admin:
        from chat3d.domain.admin import audit

        audit(
            session,
            inviter,
            "invitation.create",
            "invitation",
            None,
            {"emails": clean, "mode": "direct", "source": source.value},
            ip=ip,
        )
    return created


def _invite_through_waitlist(session: Session, inv: Invitation, inviter: User, inviter_name: str) -> None:
    entry, created = get_or_create_entry(session, inv.email, invited_by=inviter.id)
    inv.waitlist_entry_id = entry.id
    if entry.invited_by is None:
        entry.invited_by = inviter.id
        session.add(entry)
    if created or entry.status == WaitlistStatus.pending_email_confirmation.value:
        send_confirmation(session, entry, template="invitation_waitlist", inviter_name=inviter_name)
    elif entry.status == WaitlistStatus.pending_admin_approval.value:
        pass  # already confirmed: the admin's decision will move this invitation along
    # approved or rejected: nothing is sent; the invitation stays as the inviter sees any other one.


def revoke_invitation(
    session: Session, inviter: User, invitation_id: uuid.UUID | str, *, ip: str | None = None
) -> Invitation:
    """Kill the link (registration token revoked, or the waitlist confirmation link expired) and mark it revoked."""
    try:
        iid = invitation_id if isinstance(invitation_id, uuid.UUID) else uuid.UUID(str(invitation_id))
    except ValueError:
        raise NotFound("No such invitation.") from None
    inv = session.exec(select(Invitation).where(Invitation.id == iid).with_for_update()).first()
    if inv is None or inv.inviter_id != inviter.id:
        raise NotFound("No such invitation.")
    if inv.status not in LIVE:
        raise Conflict(f"This invitation is already {inv.status.replace('_', ' ')}.")
    now = utcnow()
    if inv.registration_token_id is not None:
        session.exec(
            update(RegistrationToken)
            .where(col(RegistrationToken.id) == inv.registration_token_id, col(RegistrationToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
    if inv.waitlist_entry_id is not None:
        entry = session.get(WaitlistEntry, inv.waitlist_entry_id)
        if (
            entry is not None
            and entry.status == WaitlistStatus.pending_email_confirmation.value
            and entry.invited_by == inviter.id
        ):
            expire_confirmations(session, entry.id)
    inv.status = InvitationStatus.revoked.value
    inv.updated_at = now
    session.add(inv)
    session.flush()
    tell_inviters(session, [(inv.inviter_id, inv.id, inv.email, inv.status)])
    if _is_admin(inviter):
        from chat3d.domain.admin import audit

        audit(session, inviter, "invitation.revoke", "invitation", inv.id, {"email": inv.email}, ip=ip)
    return inv

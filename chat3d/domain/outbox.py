"""The mail outbox: a mail is a row written in the transaction of the change that causes it.

A worker claims due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers never take the same
one), delivers them outside any transaction, and records the outcome. A failed delivery is retried with
exponential backoff; a crash mid-delivery leaves the row 'sending' with a lease that runs out, after which
it is claimed again. So a rolled-back change never sends mail, and an SMTP outage only delays it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from chat3d.db.models import OutboxMessage, OutboxStatus, utcnow
from chat3d.domain.errors import NotFound
from chat3d.domain.pagination import paginate
from chat3d.mail import mailbox
from chat3d.mail.render import render_mail
from chat3d.mail.transport import deliver
from chat3d.settings import get_settings

log = logging.getLogger("chat3d.outbox")

SENDING_LEASE = timedelta(minutes=5)
CLAIM_BATCH = 20


def enqueue_mail(
    session: Session,
    to: str,
    template: str,
    context: dict[str, Any],
    *,
    user_id: uuid.UUID | None = None,
    marketing: bool = False,
) -> OutboxMessage:
    """Queue a mail in `session`'s transaction; it renders now, so a bad template fails the change itself.

    `marketing` (which adds the unsubscribe footer and needs `unsubscribe_url`) is kept in the stored context.
    """
    subject = render_mail(template, context, marketing=marketing).subject
    message = OutboxMessage(
        to_email=to,
        template=template,
        subject=subject[:300],
        context={**context, "marketing": marketing},
        user_id=user_id,
    )
    session.add(message)
    return message


def _claim(session: Session, limit: int) -> list[OutboxMessage]:
    """Take up to `limit` due rows and lease them to this worker, in one short transaction."""
    now = utcnow()
    query = (
        select(OutboxMessage)
        .where(col(OutboxMessage.status).in_([OutboxStatus.pending.value, OutboxStatus.sending.value]))
        .where(OutboxMessage.next_attempt_at <= now)
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query).all())
    for row in rows:
        row.status = OutboxStatus.sending.value
        row.attempts += 1
        row.next_attempt_at = now + SENDING_LEASE
        session.add(row)
    session.commit()
    return rows


def _retry_delay(attempts: int) -> timedelta:
    settings = get_settings()
    return timedelta(seconds=min(settings.outbox_retry_base_s * 2 ** (attempts - 1), settings.outbox_retry_max_s))


def deliver_due_mail(session: Session, limit: int = CLAIM_BATCH) -> int:
    """Deliver the mail that is due; returns how many rows were attempted. Commits on `session`."""
    settings = get_settings()
    attempted = _claim(session, limit)
    for row in attempted:
        context = dict(row.context)
        marketing = bool(context.pop("marketing", False))
        try:
            deliver(str(row.id), row.to_email, render_mail(row.template, context, marketing=marketing))
        except Exception as exc:  # any failure is recorded on the row and retried
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= settings.outbox_max_attempts:
                row.status = OutboxStatus.failed.value
                log.error("mail %s to %s failed for good: %s", row.id, row.to_email, row.last_error)
            else:
                row.status = OutboxStatus.pending.value
                row.next_attempt_at = utcnow() + _retry_delay(row.attempts)
                log.warning(
                    "mail %s to %s failed (attempt %d), retrying: %s",
                    row.id,
                    row.to_email,
                    row.attempts,
                    row.last_error,
                )
        else:
            row.status = OutboxStatus.sent.value
            row.sent_at = utcnow()
            row.last_error = None
        session.add(row)
        session.commit()
    return len(attempted)


def list_outbox(
    session: Session, *, status: OutboxStatus | str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[OutboxMessage], int]:
    """The outbox for admins, newest first, optionally of one status; returns (page, total)."""
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == OutboxStatus(status).value)
    return paginate(session, query, col(OutboxMessage.created_at).desc(), limit=limit, offset=offset)


def list_dev_mailbox(*, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Mail delivered as files (no SMTP configured), newest first; returns (page, total)."""
    messages = mailbox.list_messages()
    return messages[offset : offset + limit], len(messages)


def read_dev_message(message_id: str) -> dict[str, Any]:
    """One mail of the dev mailbox: to, subject, text, html, links."""
    message = mailbox.read_message(message_id)
    if message is None:
        raise NotFound("No such message in the dev mailbox.")
    return message

"""Deleting accounts for good once their self-deletion window has passed (see docs/retention.md).

`purge_due_accounts` picks users whose status is `deactivated` and whose `deactivated_until` is in the
past, in batches, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several workers never take the same
user. Per batch, in one transaction:

* rows that only *mention* the user and must stay for audit are anonymised: security events lose the
  user's id and email, admin audit entries lose the actor/target id and any copy of the email in their
  details; mail in the outbox to or about the user is deleted (it holds the address and links);
* waitlist entries and registration tokens for the user's address are deleted (personal data);
* the user row is deleted; the database cascades to chats, items, queries, files, notifications,
  account actions, invitations the user sent and sessions, and sets every other mention to NULL.

Files on disk are removed after the commit (a rollback never loses a file a row still points at); a
crash between the two leaves orphan files in the user's folder, which the next run removes as well.
A second run finds nothing to do. Only `deactivated_until` marks a deletion, so an admin's suspension
(no `deactivated_until`) is never purged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.engine import get_engine
from chat3d.db.models import (
    AdminAuditLog,
    ChatContext,
    OutboxMessage,
    RegistrationToken,
    SecurityEvent,
    StoredFile,
    User,
    UserStatus,
    WaitlistEntry,
    table_of,
    utcnow,
)
from chat3d.domain import files

log = logging.getLogger("chat3d.deletion")

DEFAULT_BATCH = 20
REDACTED = "[deleted user]"


@dataclass
class PurgeReport:
    users: int = 0
    chats: int = 0
    files: int = 0
    files_removed_from_disk: int = 0
    security_events_anonymised: int = 0
    audit_entries_anonymised: int = 0
    user_ids: list[uuid.UUID] = field(default_factory=list)


def _due(session: Session, now: datetime, batch: int) -> list[User]:
    query = (
        select(User)
        .where(
            User.status == UserStatus.deactivated.value,
            col(User.deactivated_until).is_not(None),
            col(User.deactivated_until) <= now,
        )
        .order_by(col(User.deactivated_until))
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def _scrub(value, needles: set[str]):
    """A copy of a JSON value with every string that mentions one of `needles` redacted."""
    if isinstance(value, dict):
        return {k: _scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, needles) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return REDACTED
    return value


def _anonymise(session: Session, user: User, report: PurgeReport) -> None:
    uid, email = user.id, user.email.lower()
    needles = {email, str(uid)}
    se = table_of(SecurityEvent)
    result = session.exec(
        sa.update(se)
        .where(sa.or_(se.c.user_id == uid, sa.func.lower(se.c.email) == email))
        .values(user_id=None, email=None)
    )
    report.security_events_anonymised += int(result.rowcount or 0)
    # Details may name the user too (e.g. a refused token's subject): redact them, in Python for portability.
    for ev in session.exec(
        select(SecurityEvent).where(
            sa.func.lower(sa.cast(SecurityEvent.details, sa.Text)).contains(email)
            | sa.cast(SecurityEvent.details, sa.Text).contains(str(uid))
        )
    ).all():
        ev.details = _scrub(ev.details, needles)
        session.add(ev)

    audit_rows = session.exec(
        select(AdminAuditLog).where(
            (col(AdminAuditLog.actor_id) == uid)
            | (col(AdminAuditLog.target_id) == str(uid))
            | sa.func.lower(sa.cast(AdminAuditLog.details, sa.Text)).contains(email)
        )
    ).all()
    for row in audit_rows:
        if row.actor_id == uid:
            row.actor_id = None
        if row.target_id == str(uid):
            row.target_id = None
        row.details = _scrub(row.details, needles)
        session.add(row)
    report.audit_entries_anonymised += len(audit_rows)

    session.execute(
        sa.delete(OutboxMessage).where(
            (col(OutboxMessage.user_id) == uid) | (sa.func.lower(OutboxMessage.to_email) == email)
        )
    )
    session.execute(sa.delete(RegistrationToken).where(sa.func.lower(RegistrationToken.email) == email))
    session.execute(sa.delete(WaitlistEntry).where(sa.func.lower(WaitlistEntry.email) == email))


def purge_due_accounts(*, now: datetime | None = None, batch: int = DEFAULT_BATCH) -> PurgeReport:
    """Delete every account whose deletion is due; idempotent and safe to run on several replicas at once."""
    report = PurgeReport()
    now = now or utcnow()
    while True:
        with Session(get_engine(), expire_on_commit=False) as session:
            users = _due(session, now, batch)
            if not users:
                break
            paths: list[str] = []
            ids = [u.id for u in users]
            for user in users:
                rows = session.exec(select(StoredFile.storage_path).where(StoredFile.owner_id == user.id)).all()
                paths += list(rows)
                report.files += len(rows)
                report.chats += int(
                    session.execute(
                        sa.select(sa.func.count()).select_from(ChatContext).where(col(ChatContext.owner_id) == user.id)
                    ).scalar_one()
                )
                _anonymise(session, user, report)
            session.flush()
            session.execute(sa.delete(User).where(col(User.id).in_(ids)))
            session.add(SecurityEvent(event_type="account.purged", details={"count": len(ids)}))
            session.commit()
        report.files_removed_from_disk += files.remove_stored_paths(paths)
        for uid in ids:
            _remove_user_folder(uid)
        report.users += len(ids)
        report.user_ids += ids
        if len(users) < batch:
            break
    if report.users:
        log.info(
            "purged %d accounts: %d chats, %d files (%d removed from disk), %d security events and %d audit entries "
            "anonymised",
            report.users,
            report.chats,
            report.files,
            report.files_removed_from_disk,
            report.security_events_anonymised,
            report.audit_entries_anonymised,
        )
    return report


def _remove_user_folder(uid: uuid.UUID) -> None:
    """Files are stored under `<user id>/`: remove whatever is left (orphans of an earlier crash)."""
    files.storage().delete_prefix(str(uid))


RETENTION_INTERVAL_S = 300.0


def run_retention_once() -> None:
    """One housekeeping round: purge due accounts, delete expired exports, mark stale action links expired."""
    from chat3d.domain.account_actions import expire_stale_actions
    from chat3d.domain.export import delete_expired_exports

    purge_due_accounts()
    delete_expired_exports()
    from chat3d.domain.invitations import expire_stale

    with Session(get_engine()) as session:
        expire_stale_actions(session)
        expire_stale(session)  # invitations whose link ran out: their inviters get the event (issue 24)
        session.commit()


async def run_retention_jobs(stop_event) -> None:
    """Periodic job (chat3d.worker JOBS): the retention policy, every few minutes, first at start."""
    import asyncio

    while not stop_event.is_set():
        try:
            await asyncio.to_thread(run_retention_once)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("retention round failed")
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=RETENTION_INTERVAL_S)
        except TimeoutError:
            pass

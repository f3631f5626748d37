"""Housekeeping of rows that only grow: events and notifications, login sessions, the mail outbox, unkept
slider previews; and per-user storage accounting.

`chat3d.domain.deletion.run_retention_jobs` purges deleted accounts and expired exports; this module prunes
the rest (docs/operations.md lists the periods). Each prune is one DELETE with an age condition, so it is
safe to run in several workers at once and cheap to run often. `run_housekeeping_jobs` is the periodic job
in `chat3d.worker.JOBS`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.engine import get_engine
from chat3d.db.models import (
    FileKind,
    Notification,
    OutboxMessage,
    OutboxStatus,
    StoredFile,
    User,
    UserSession,
    table_of,
)
from chat3d.domain.files import remove_stored_paths
from chat3d.events.store import prune_events
from chat3d.events.types import UNREAD_BADGE_TYPES

log = logging.getLogger("chat3d.retention")

EVENTS_KEEP = timedelta(days=7)  # realtime events (not notifications): a client offline longer reloads its state
READ_NOTIFICATIONS_KEEP = timedelta(days=90)
UNREAD_NOTIFICATIONS_KEEP = timedelta(days=365)
ENDED_SESSIONS_KEEP = timedelta(days=30)  # after expiry or revocation: the sessions list and audit questions
SENT_MAIL_KEEP = timedelta(days=30)
FAILED_MAIL_KEEP = timedelta(days=90)
UNKEPT_PREVIEW_KEEP = timedelta(days=1)  # a slider preview nobody kept or discarded (the tab was closed)
HOUSEKEEPING_INTERVAL_S = 3600.0


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def prune_notifications(session: Session, now: datetime | None = None) -> int:
    """Notifications (the badge kind) read more than 90 days ago, or unread and older than a year."""
    now = _now(now)
    notifications = table_of(Notification)
    n = notifications.c
    result = session.exec(
        sa.delete(notifications).where(
            n.event_type.in_(sorted(UNREAD_BADGE_TYPES)),
            sa.or_(
                n.read_at < now - READ_NOTIFICATIONS_KEEP,
                sa.and_(n.read_at.is_(None), n.created_at < now - UNREAD_NOTIFICATIONS_KEEP),
            ),
        )
    )
    return int(result.rowcount or 0)


def prune_sessions(session: Session, now: datetime | None = None) -> int:
    """Login sessions that expired or were revoked more than 30 days ago (live ones are never touched)."""
    now = _now(now)
    cutoff = now - ENDED_SESSIONS_KEEP
    sessions = table_of(UserSession)
    result = session.exec(
        sa.delete(sessions).where(sa.or_(sessions.c.expires_at < cutoff, sessions.c.revoked_at < cutoff))
    )
    return int(result.rowcount or 0)


def prune_outbox(session: Session, now: datetime | None = None) -> int:
    """Mail sent more than 30 days ago and mail that finally failed more than 90 days ago (pending mail stays)."""
    now = _now(now)
    outbox = table_of(OutboxMessage)
    c = outbox.c
    result = session.exec(
        sa.delete(outbox).where(
            sa.or_(
                sa.and_(c.status == OutboxStatus.sent.value, c.sent_at < now - SENT_MAIL_KEEP),
                sa.and_(c.status == OutboxStatus.failed.value, c.created_at < now - FAILED_MAIL_KEEP),
            )
        )
    )
    return int(result.rowcount or 0)


def prune_unkept_previews(session: Session, now: datetime | None = None) -> list[str]:
    """Model files attached to no version and older than a day: previews (chat3d.pipeline.edits) left behind
    by a closed tab. Returns their paths, to remove from disk after commit. Uploads and exports are other kinds."""
    files = table_of(StoredFile)
    t = files.c
    gone = session.exec(
        sa.delete(files)
        .where(
            t.kind == FileKind.model.value,
            t.item_id.is_(None),
            t.query_id.is_(None),
            t.created_at < _now(now) - UNKEPT_PREVIEW_KEEP,
        )
        .returning(t.storage_path)
    )
    return [row[0] for row in gone]


@dataclass(frozen=True)
class HousekeepingReport:
    events: int
    notifications: int
    sessions: int
    outbox: int
    previews: int = 0


def run_housekeeping_once(now: datetime | None = None) -> HousekeepingReport:
    now = _now(now)
    with Session(get_engine()) as session:
        report = HousekeepingReport(
            events=prune_events(session, now - EVENTS_KEEP),
            notifications=prune_notifications(session, now),
            sessions=prune_sessions(session, now),
            outbox=prune_outbox(session, now),
        )
        preview_paths = prune_unkept_previews(session, now)
        session.commit()
    if preview_paths:
        report = HousekeepingReport(**{**vars(report), "previews": remove_stored_paths(preview_paths)})
    if any(vars(report).values()):
        log.info("housekeeping: pruned %s", vars(report))
    return report


async def run_housekeeping_jobs(stop_event: asyncio.Event) -> None:
    """Periodic job (chat3d.worker JOBS): prune every hour, first at start."""
    while not stop_event.is_set():
        try:
            await asyncio.to_thread(run_housekeeping_once)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("housekeeping round failed")
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=HOUSEKEEPING_INTERVAL_S)
        except TimeoutError:
            pass


# --- storage accounting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserStorage:
    user_id: uuid.UUID
    email: str
    files: int
    bytes: int

    def as_json(self) -> dict:
        return {"userId": str(self.user_id), "email": self.email, "files": self.files, "bytes": self.bytes}


def storage_by_user(session: Session, *, limit: int = 50) -> list[UserStorage]:
    """Users by stored bytes (models, uploads, exports), largest first; users without files are left out."""
    rows = session.exec(
        select(
            User.id, User.email, sa.func.count(col(StoredFile.id)), sa.func.coalesce(sa.func.sum(StoredFile.size), 0)
        )
        .join(StoredFile, col(StoredFile.owner_id) == User.id)
        .group_by(col(User.id), col(User.email))
        .order_by(sa.func.sum(StoredFile.size).desc(), col(User.id))
        .limit(limit)
    ).all()
    return [UserStorage(uid, email, int(n), int(total)) for uid, email, n, total in rows]


def storage_totals(session: Session) -> dict:
    """For the admin dashboard: all stored files and bytes, and the top users by bytes."""
    n, total = session.exec(
        select(sa.func.count(col(StoredFile.id)), sa.func.coalesce(sa.func.sum(StoredFile.size), 0))
    ).one()
    return {"files": int(n), "bytes": int(total), "topUsers": [u.as_json() for u in storage_by_user(session, limit=10)]}

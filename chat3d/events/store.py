"""Durable events: the `notifications` table is the source of truth for every realtime stream.

Domain code records an event in its own transaction with `record_event(session, user_id, type, payload)`;
the row's integer id is the SSE event id. The event is published on the bus *after* the transaction
commits (nothing is published for a rolled-back one), together with its predecessor: the id of the
recipient's previous event. A stream whose last delivered id equals that predecessor has provably missed
nothing and sends the event straight from the message; any other stream reads
`events_after(last_delivered_id)` from this table, which is also how replay works.

Ordering guarantee
------------------
Ids come from one sequence, so two transactions can allocate ids 10 and 11 and commit 11 first. A reader
that saw 11 and then asks for "after 11" would never see 10. To rule that out, `record_event` takes a
per-recipient, transaction-scoped advisory lock on PostgreSQL (`pg_advisory_xact_lock(<64-bit hash of
user_id>)`) *before* the INSERT. Two transactions writing events for the same recipient therefore
allocate their ids and commit in the same order (the second waits for the first's COMMIT, which releases
the lock only after the commit is visible). Streams are per user, so per-user order is all that matters;
writers for different recipients never wait for each other. On SQLite writes are serialised by the
database lock (held from the first write to COMMIT), which gives the same guarantee.

Consequences for callers: record events late in a transaction and keep it short, because concurrent
writers of events *for the same recipient* wait on each other until COMMIT. When one transaction records
for several recipients, `record_for_admins` / `record_many` lock in a stable order to avoid deadlocks.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlmodel import Session, col

from chat3d.db.models import ChatItem, Notification, Role, User, UserStatus, table_of, utcnow
from chat3d.domain.coerce import as_uuid
from chat3d.domain.errors import NotFound
from chat3d.events.types import ALL_EVENT_TYPES, CHAT_ITEM_UPDATED, UNREAD_BADGE_TYPES

_T = table_of(Notification)
# The recipient's previous event, as a RETURNING column of the INSERT into `notifications` (written out:
# SQLAlchemy does not correlate a subquery inside RETURNING with the INSERT's own table).
_PREDECESSOR: sa.ColumnClause[int | None] = sa.literal_column(
    "(SELECT max(earlier.id) FROM notifications AS earlier"
    " WHERE earlier.user_id = notifications.user_id AND earlier.id < notifications.id)"
)
_ADVISORY_NAMESPACE = b"chat3d.events:"
DEFAULT_BATCH = 500


class _NewEvent(TypedDict):
    """One row's INSERT parameters in `record_many` (the Notification fields besides its id)."""

    user_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


def advisory_key(user_id: uuid.UUID) -> int:
    """The signed 64-bit key of a recipient's advisory lock (stable across processes and versions)."""
    digest = hashlib.blake2b(_ADVISORY_NAMESPACE + as_uuid(user_id).bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_recipients(session: Session, user_ids: Iterable[uuid.UUID]) -> None:
    if not _is_postgres(session):
        return
    for key in sorted({advisory_key(u) for u in user_ids}):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(event_id: int, event_type: str, payload: Any, created_at: datetime) -> dict[str, Any]:
    """The wire shape of one event, identical on the stream, in replay and in notification lists."""
    return {"id": int(event_id), "type": event_type, "payload": payload or {}, "createdAt": iso_utc(created_at)}


def _notification_item(row: Any) -> dict[str, Any]:
    item = envelope(row.id, row.event_type, row.payload, row.created_at)
    item["readAt"] = iso_utc(row.read_at)
    return item


# --- writing ---------------------------------------------------------------------------------------


def record_event(
    session: Session,
    user_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any] | None = None,
    *,
    publish: bool = True,
) -> Notification:
    """Write one event for `user_id` in the caller's transaction and return the row (id assigned).

    The recipient's advisory lock is taken before the INSERT (see the module docstring); the event is
    published on the bus after the caller commits, and never if it rolls back.
    """
    return record_many(session, [(user_id, event_type, payload)], publish=publish)[0]


def record_item_updated(session: Session, item: ChatItem) -> Notification:
    """`chat.item.updated` for the item's owner: its chat's open pages re-read the item (and the versions)."""
    return record_event(
        session,
        item.owner_id,
        CHAT_ITEM_UPDATED,
        {"contextId": str(item.context_id), "itemId": str(item.id), "role": item.role},
    )


def record_many(
    session: Session, events: Iterable[tuple[uuid.UUID, str, dict[str, Any] | None]], *, publish: bool = True
) -> list[Notification]:
    """Record several events in one transaction, locking all recipients first in a stable order.

    One INSERT ... RETURNING gives each row its id and its predecessor, the id of the recipient's
    previous event: read by the same statement after the recipients' locks are held (PostgreSQL) or
    while the write lock is (SQLite), so no other writer can commit an event for them in between and the
    answer is exact. The predecessor travels with the bus message and lets a stream whose cursor equals
    it send the event straight from the message instead of reading the table (`chat3d.events.stream`).
    Returns the rows (transient objects carrying the ids), in the order given.
    """
    events = [(as_uuid(u), t, p) for u, t, p in events]
    for _, event_type, _ in events:
        if event_type not in ALL_EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
    if not events:
        return []
    _lock_recipients(session, [u for u, _, _ in events])
    session.flush()  # rows this transaction added through the ORM (a new user, say) exist before ours refer to them
    now = utcnow()
    params: list[_NewEvent] = [
        {"user_id": u, "event_type": t, "payload": dict(p or {}), "created_at": now} for u, t, p in events
    ]
    returned = session.execute(
        sa.insert(_T).returning(_T.c.id, _PREDECESSOR, sort_by_parameter_order=True), params
    ).all()
    ids = [int(r[0]) for r in returned]
    rows = [Notification(id=event_id, **p) for event_id, p in zip(ids, params)]
    if publish:
        from chat3d.events.bus import publish_after_commit

        # Rows of one statement may not see each other: chain a recipient's new rows in id order.
        first_prev = {int(r[0]): int(r[1] or 0) for r in returned}
        last: dict[uuid.UUID, int] = {}
        for event_id, row in sorted(zip(ids, rows), key=lambda pair: pair[0]):
            prev_id = last.get(row.user_id, first_prev[event_id])
            last[row.user_id] = event_id
            env = envelope(event_id, row.event_type, row.payload, row.created_at)
            publish_after_commit(session, row.user_id, event_id, envelope=env, prev_id=prev_id)
    return rows


def record_for_admins(session: Session, event_type: str, payload: dict[str, Any] | None = None) -> list[Notification]:
    """One event row per active admin (e.g. `admin.settings.updated`, a new waitlist entry to approve)."""
    admin_ids = (
        session.execute(
            sa.select(col(User.id))
            .where(col(User.role) == Role.admin.value, col(User.status) == UserStatus.active.value)
            .order_by(col(User.id))
        )
        .scalars()
        .all()
    )
    return record_many(session, [(admin_id, event_type, payload) for admin_id in admin_ids])


# --- reading the stream ------------------------------------------------------------------------------
# These read functions only call `.execute()`, so they take a Session or a plain Connection (the stream's
# readers use autocommit connections, see `chat3d.events.stream`).


def events_after(
    session: Session | sa.Connection, user_id: uuid.UUID, after_id: int, limit: int = DEFAULT_BATCH
) -> list[dict[str, Any]]:
    """The recipient's events with id > `after_id`, oldest first, at most `limit` (the replay/live query)."""
    rows = session.execute(
        sa.select(_T.c.id, _T.c.event_type, _T.c.payload, _T.c.created_at)
        .where(_T.c.user_id == as_uuid(user_id), _T.c.id > int(after_id))
        .order_by(_T.c.id)
        .limit(max(1, int(limit)))
    ).all()
    return [envelope(r.id, r.event_type, r.payload, r.created_at) for r in rows]


_MANY_SQL = """
SELECT r.ord, n.id, n.event_type, n.payload, n.created_at
FROM unnest(%(uids)s::uuid[], %(cursors)s::bigint[]) WITH ORDINALITY AS r(uid, cur, ord)
CROSS JOIN LATERAL (
    SELECT id, event_type, payload, created_at FROM notifications
    WHERE user_id = r.uid AND id > r.cur ORDER BY id LIMIT %(lim)s
) AS n
ORDER BY r.ord, n.id
"""


def events_after_many(
    conn: Session | sa.Connection, requests: list[tuple[uuid.UUID, int]], limit: int = DEFAULT_BATCH
) -> list[list[dict[str, Any]]]:
    """`events_after` for many (user, cursor) pairs at once: one round trip on PostgreSQL.

    Answers one list per request, in request order; the same user may appear with different cursors.
    """
    if not requests:
        return []
    bind = conn.connection() if isinstance(conn, Session) else conn
    if bind.dialect.name != "postgresql":
        return [events_after(conn, user_id, cursor, limit) for user_id, cursor in requests]
    rows = bind.exec_driver_sql(
        _MANY_SQL,
        {"uids": [str(u) for u, _ in requests], "cursors": [int(c) for _, c in requests], "lim": max(1, int(limit))},
    ).all()
    out: list[list[dict[str, Any]]] = [[] for _ in requests]
    for ordinal, event_id, event_type, payload, created_at in rows:
        out[ordinal - 1].append(envelope(event_id, event_type, payload, created_at))
    return out


def count_after(session: Session, user_id: uuid.UUID, after_id: int) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count()).select_from(_T).where(_T.c.user_id == as_uuid(user_id), _T.c.id > int(after_id))
        ).scalar_one()
    )


def last_id_at_or_before(session: Session, user_id: uuid.UUID, moment: datetime) -> int:
    """The recipient's newest event id created at or before `moment`, 0 when none: where `since` replays from."""
    moment = moment.astimezone(UTC)
    if not _is_postgres(session):  # SQLite keeps naive UTC text; compare like with like
        moment = moment.replace(tzinfo=None)
    value = session.execute(
        sa.select(sa.func.max(_T.c.id)).where(_T.c.user_id == as_uuid(user_id), _T.c.created_at <= moment)
    ).scalar_one()
    return int(value or 0)


def latest_event_id(session: Session, user_id: uuid.UUID) -> int:
    """The recipient's newest event id, 0 when none: where a stream without Last-Event-ID starts ("now")."""
    value = session.execute(sa.select(sa.func.max(_T.c.id)).where(_T.c.user_id == as_uuid(user_id))).scalar_one()
    return int(value or 0)


# --- notifications (the badge types only) ---------------------------------------------------------------


def _badge_filter(user_id: uuid.UUID) -> list[Any]:
    return [_T.c.user_id == as_uuid(user_id), _T.c.event_type.in_(sorted(UNREAD_BADGE_TYPES))]


def unread_count(session: Session, user_id: uuid.UUID) -> int:
    """Unread `notification.created` events; other event types never count toward the badge."""
    return int(
        session.execute(
            sa.select(sa.func.count()).select_from(_T).where(*_badge_filter(user_id), _T.c.read_at.is_(None))
        ).scalar_one()
    )


def list_notifications(
    session: Session, user_id: uuid.UUID, *, limit: int = 50, offset: int = 0, unread_only: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """The recipient's notifications, newest first, and how many match in total."""
    where = _badge_filter(user_id)
    if unread_only:
        where.append(_T.c.read_at.is_(None))
    total = int(session.execute(sa.select(sa.func.count()).select_from(_T).where(*where)).scalar_one())
    rows = session.execute(
        sa.select(_T.c.id, _T.c.event_type, _T.c.payload, _T.c.created_at, _T.c.read_at)
        .where(*where)
        .order_by(_T.c.id.desc())
        .limit(max(0, int(limit)))
        .offset(max(0, int(offset)))
    ).all()
    return [_notification_item(r) for r in rows], total


def mark_read(session: Session, user_id: uuid.UUID, notification_id: int) -> dict[str, Any]:
    """Mark one of the recipient's notifications read (idempotent); another user's or unknown id → NotFound."""
    row = session.get(Notification, int(notification_id))
    if row is None or row.user_id != as_uuid(user_id) or row.event_type not in UNREAD_BADGE_TYPES:
        raise NotFound("No such notification")
    if row.read_at is None:
        row.read_at = utcnow()
        session.add(row)
        session.flush()
    return _notification_item(row)


def mark_all_read(session: Session, user_id: uuid.UUID) -> int:
    """Mark every unread notification of the recipient read; returns how many changed."""
    result = session.exec(sa.update(_T).where(*_badge_filter(user_id), _T.c.read_at.is_(None)).values(read_at=utcnow()))
    return int(result.rowcount or 0)


def prune_events(session: Session, before: datetime) -> int:
    """Delete non-notification events older than `before` (a client offline that long reloads its state)."""
    result = session.exec(
        sa.delete(_T).where(_T.c.created_at < before, _T.c.event_type.not_in(sorted(UNREAD_BADGE_TYPES)))
    )
    return int(result.rowcount or 0)

"""Housekeeping (chat3d/domain/retention.py): what is pruned, what stays; per-user storage accounting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from chat3d.db.models import FileKind, Notification, OutboxMessage, User, UserSession
from chat3d.domain import files, retention
from chat3d.events import types as T
from chat3d.worker import JOBS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _user(session: Session, email: str) -> User:
    user = User(email=email)
    session.add(user)
    session.commit()
    return user


def test_housekeeping_prunes_only_what_is_old(session: Session) -> None:
    user = _user(session, "old@example.com")
    day = timedelta(days=1)

    def note(event_type: str, age: timedelta, read_age: timedelta | None = None) -> Notification:
        row = Notification(user_id=user.id, event_type=event_type, payload={}, created_at=NOW - age,
                           read_at=NOW - read_age if read_age is not None else None)
        session.add(row)
        return row

    keep = [
        note(T.CHAT_ITEM_UPDATED, 1 * day),                    # recent event
        note(T.NOTIFICATION_CREATED, 400 * day, 30 * day),     # read only 30 days ago
        note(T.NOTIFICATION_CREATED, 200 * day),               # unread, under a year
    ]
    gone = [
        note(T.CHAT_QUERY_STATE, 8 * day),                     # event older than 7 days
        note(T.NOTIFICATION_CREATED, 400 * day, 100 * day),    # read 100 days ago
        note(T.NOTIFICATION_CREATED, 400 * day),               # unread for over a year
    ]

    def login(expires_age: timedelta, revoked_age: timedelta | None = None) -> UserSession:
        row = UserSession(user_id=user.id, jti=f"j{len(session.new)}-{expires_age.days}-{revoked_age}",
                          expires_at=NOW - expires_age, revoked_at=NOW - revoked_age if revoked_age else None)
        session.add(row)
        return row

    live = login(-7 * day)                    # expires next week
    recently_ended = login(10 * day)          # expired 10 days ago
    old_expired = login(40 * day)
    old_revoked = login(-3 * day, 31 * day)   # not expired, but revoked 31 days ago

    def mail(status: str, created_age: timedelta, sent_age: timedelta | None = None) -> OutboxMessage:
        row = OutboxMessage(to_email="x@example.com", template="welcome", subject="Hi", context={}, status=status,
                            created_at=NOW - created_age, sent_at=NOW - sent_age if sent_age else None)
        session.add(row)
        return row

    mail_kept = [mail("pending", 100 * day), mail("sent", 40 * day, 20 * day), mail("failed", 60 * day)]
    mail_gone = [mail("sent", 40 * day, 31 * day), mail("failed", 91 * day)]
    session.commit()
    ids = {"keep": [r.id for r in keep], "gone": [r.id for r in gone]}
    mail_ids = {"keep": {m.id for m in mail_kept}, "gone": {m.id for m in mail_gone}}
    live_id, recent_id, old_ids = live.id, recently_ended.id, {old_expired.id, old_revoked.id}
    session.expunge_all()

    report = retention.run_housekeeping_once(NOW)
    assert (report.events, report.notifications, report.sessions, report.outbox) == (1, 2, 2, 2)
    left = {r.id for r in session.exec(select(Notification)).all()}
    assert left == set(ids["keep"])
    assert {s.id for s in session.exec(select(UserSession)).all()} == {live_id, recent_id}
    assert not old_ids & {s.id for s in session.exec(select(UserSession)).all()}
    assert {m.id for m in session.exec(select(OutboxMessage)).all()} == mail_ids["keep"]
    assert retention.run_housekeeping_once(NOW) == retention.HousekeepingReport(0, 0, 0, 0, 0)


def test_the_housekeeping_loop_is_a_worker_job_and_stops(session: Session) -> None:
    assert retention.run_housekeeping_jobs in JOBS

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(retention.run_housekeeping_jobs(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run())


def test_storage_is_accounted_per_user(session: Session) -> None:
    big = _user(session, "big@example.com")
    small = _user(session, "small@example.com")
    _user(session, "none@example.com")
    for size in (1000, 2500):
        files.store_bytes(session, big.id, b"x" * size, fmt="stl", filename="p.stl")
    files.store_bytes(session, small.id, b"y" * 10, fmt="png", filename="s.png", kind=FileKind.upload)
    session.commit()

    rows = retention.storage_by_user(session)
    assert [(r.email, r.files, r.bytes) for r in rows] == [("big@example.com", 2, 3500), ("small@example.com", 1, 10)]
    totals = retention.storage_totals(session)
    assert (totals["files"], totals["bytes"]) == (3, 3510) and totals["topUsers"][0]["email"] == "big@example.com"


def test_housekeeping_removes_unkept_previews_after_a_day(session: Session) -> None:
    """A slider preview's files belong to no version; left behind (tab closed) they go after a day, while
    model files of versions, uploads and exports of the same age stay."""
    from chat3d.db.models import ItemRole, StoredFile
    from chat3d.domain import chats

    user = _user(session, "previews@example.com")
    ctx = chats.create_context(session, user.id)
    item = chats.add_item(session, ctx, ItemRole.assistant, [])

    def stored(kind: FileKind, age: timedelta, item_id=None) -> tuple:
        row = files.store_bytes(session, user.id, b"x" * 10, fmt="glb", filename="m.glb", kind=kind,
                                context_id=ctx.id, item_id=item_id)
        row.created_at = NOW - age
        session.add(row)
        return row.id, files.absolute_path(row)

    old_preview = stored(FileKind.model, timedelta(days=2))
    new_preview = stored(FileKind.model, timedelta(hours=2))
    old_version_file = stored(FileKind.model, timedelta(days=30), item.id)
    old_upload = stored(FileKind.upload, timedelta(days=30))
    session.commit()
    assert old_preview[1].exists()

    report = retention.run_housekeeping_once(NOW)
    assert report.previews == 1
    left = {r.id for r in session.exec(select(StoredFile)).all()}
    assert left == {new_preview[0], old_version_file[0], old_upload[0]}
    assert not old_preview[1].exists()
    assert new_preview[1].exists() and old_version_file[1].exists() and old_upload[1].exists()

"""The bell and notification center states, and the events the live admin console follows.

Pure helpers are tested directly; the handlers run on a real Reflex state tree (no browser) against a
clean PostgreSQL database, with the signed-in user patched in (AuthState reads it from the cookie).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import reflex as rx
from sqlmodel import Session, select

from chat3d.db.models import Notification, User
from chat3d.domain import waitlist
from chat3d.events import record_event, store, types
from chat3d.state.admin import AdminState
from chat3d.state.auth import AuthState
from chat3d.state.notifications import (
    BELL_ITEMS,
    PAGE_SIZE,
    NotificationCenterState,
    NotificationState,
    badge_text,
    bell_label,
    notification_view,
    relative_time,
)

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- pure helpers -----------------------------------------------------------------------------------------


def test_relative_time() -> None:
    assert relative_time(_iso(NOW - timedelta(seconds=20)), NOW) == "just now"
    assert relative_time(_iso(NOW - timedelta(minutes=5)), NOW) == "5 min ago"
    assert relative_time(_iso(NOW - timedelta(hours=3)), NOW) == "3 h ago"
    assert relative_time(_iso(NOW - timedelta(days=1, hours=2)), NOW) == "yesterday"
    assert relative_time(_iso(NOW - timedelta(days=4)), NOW) == "4 days ago"
    assert relative_time(_iso(NOW - timedelta(days=40)), NOW) == "2025-01-29"
    assert relative_time("2025-03-10T14:00:00", NOW) == "1 h ago"  # naive = UTC
    assert relative_time(_iso(NOW + timedelta(minutes=2)), NOW) == "just now"  # clock skew
    assert relative_time(None, NOW) == "" and relative_time("not a date", NOW) == ""


def test_notification_view_reads_either_payload_shape_and_keeps_links_on_site() -> None:
    item = {"id": 7, "type": "notification.created", "createdAt": _iso(NOW - timedelta(minutes=2)), "readAt": None,
            "payload": {"title": "A waitlist request awaits approval", "body": "a@example.com",
                        "link": "/admin?tab=waitlist&status=pending_admin_approval"}}
    view = notification_view(item, NOW)
    assert (view.id, view.title, view.body, view.when, view.unread) == (
        7, "A waitlist request awaits approval", "a@example.com", "2 min ago", True)
    assert view.link == "/admin?tab=waitlist&status=pending_admin_approval"

    export = notification_view({"id": 8, "createdAt": _iso(NOW), "readAt": _iso(NOW),
                                "payload": {"title": "Your data export is ready", "text": "Download it.",
                                            "url": "/api/files/abc"}}, NOW)
    assert (export.body, export.link, export.unread) == ("Download it.", "/api/files/abc", False)

    for unsafe in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        assert notification_view({"id": 9, "payload": {"link": unsafe}}, NOW).link == ""
    bare = notification_view({"id": 10, "payload": None}, NOW)
    assert (bare.title, bare.body, bare.link) == ("Notification", "", "")


def test_badge_and_accessible_label() -> None:
    assert bell_label(0) == "Notifications"
    assert bell_label(3) == "Notifications (3 unread)"
    assert badge_text(7) == "7" and badge_text(100) == "99+"


def test_admin_console_no_longer_polls() -> None:
    assert not hasattr(AdminState, "watch_settings")
    assert "on_live_event" in AdminState.event_handlers
    assert types.ADMIN_WAITLIST_UPDATED in types.ALL_EVENT_TYPES
    assert types.ADMIN_WAITLIST_UPDATED not in types.UNREAD_BADGE_TYPES


# --- handlers on a real state tree -------------------------------------------------------------------------


@pytest.fixture
def signed_in(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    """A state tree whose AuthState sees `who["user"]` as the signed-in user (None = signed out)."""
    user = make_user("reader@example.com")
    who: dict[str, User | None] = {"user": user}
    monkeypatch.setattr(AuthState, "_current_user", lambda self: who["user"])
    root = rx.State(_reflex_internal_init=True)

    def sub(cls):
        return root.get_substate(cls.get_full_name().split(".")[1:])

    return user, who, sub


def _notify(db: Session, user: User, n: int) -> None:
    for i in range(n):
        record_event(db, user.id, types.NOTIFICATION_CREATED, {"title": f"Note {i}", "body": f"body {i}"})
        record_event(db, user.id, types.CHAT_QUERY_STATE, {"state": "queued"})  # never counted, never listed
    db.commit()


def run(coro):
    return asyncio.run(coro)


def test_bell_rereads_on_notification_event_and_marks_all_read(db: Session, signed_in) -> None:
    user, who, sub = signed_in
    bell = sub(NotificationState)
    run(bell.refresh())
    assert (bell.unread, bell.recent, bell.label) == (0, [], "Notifications")

    _notify(db, user, 7)
    run(bell.on_event({"type": "chat.query.state", "payload": {}}))  # not ours: nothing read
    assert bell.unread == 0
    run(bell.on_event({"type": "notification.created", "payload": {"title": "ignored: the table is the truth"}}))
    assert bell.unread == 7 and bell.label == "Notifications (7 unread)"
    assert [v.title for v in bell.recent] == [f"Note {i}" for i in range(6, 6 - BELL_ITEMS, -1)]

    first = bell.recent[0]
    run(bell.open_item(first.id, ""))
    assert bell.unread == 6 and bell.recent[0].unread is False

    run(bell.mark_all_read())
    assert bell.unread == 0 and not any(v.unread for v in bell.recent)
    assert store.unread_count(db, user.id) == 0

    who["user"] = None  # signed out meanwhile: the bell empties instead of reading
    _notify(db, user, 1)
    run(bell.on_event({"type": "notification.created", "payload": {}}))
    assert (bell.unread, bell.recent) == (0, [])


def test_bell_refuses_another_users_notification(db: Session, signed_in, make_user) -> None:
    user, _who, sub = signed_in
    other = make_user("other@example.com")
    row = record_event(db, other.id, types.NOTIFICATION_CREATED, {"title": "theirs"})
    db.commit()
    bell = sub(NotificationState)
    run(bell.open_item(row.id, "https://evil.example/"))
    db.expire_all()
    assert db.get(Notification, row.id).read_at is None


def test_center_pages_marks_read_and_keeps_the_bell_in_step(db: Session, signed_in) -> None:
    user, _who, sub = signed_in
    _notify(db, user, PAGE_SIZE + 5)
    center, bell = sub(NotificationCenterState), sub(NotificationState)

    run(center.on_load())
    assert center.loaded and center.total == PAGE_SIZE + 5 and len(center.items) == PAGE_SIZE and center.has_more
    run(center.load_more())
    assert len(center.items) == PAGE_SIZE + 5 and not center.has_more
    assert len({v.id for v in center.items}) == PAGE_SIZE + 5

    target = center.items[3]
    run(center.mark_read(target.id))
    assert not next(v for v in center.items if v.id == target.id).unread
    assert bell.unread == PAGE_SIZE + 4
    assert len(center.items) == PAGE_SIZE + 5  # the shown page stays as long as it was

    run(center.mark_all_read())
    assert not any(v.unread for v in center.items) and bell.unread == 0


def test_center_empty_state(db: Session, signed_in) -> None:
    _user, _who, sub = signed_in
    center = sub(NotificationCenterState)
    run(center.on_load())
    assert center.is_empty and center.items == []


# --- the waitlist events admins' consoles follow -----------------------------------------------------------


def _confirmed(db: Session, email: str):
    from urllib.parse import parse_qs, urlsplit

    from chat3d.db.models import OutboxMessage

    waitlist.join_waitlist(db, email)
    db.commit()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == email)).all()[-1]
    entry = waitlist.confirm_email(db, parse_qs(urlsplit(mail.context["confirm_url"]).query)["token"][0])
    db.commit()
    return entry


def test_approvals_and_rejections_tell_every_admin(db: Session, make_user) -> None:
    admin = make_user("root@example.com", role="admin")
    other_admin = make_user("second@example.com", role="admin")
    a, b, c = (_confirmed(db, f"{n}@example.com") for n in ("ann", "bob", "cy"))

    def events(user: User) -> list[dict]:
        return [e for e in store.events_after(db, user.id, 0) if e["type"] == types.ADMIN_WAITLIST_UPDATED]

    waitlist.approve_entry(db, admin, a.id)
    db.commit()
    waitlist.reject_entry(db, other_admin, b.id)
    db.commit()
    waitlist.bulk_approve(db, admin, [c.id, a.id])  # a is skipped (already approved)
    db.commit()
    waitlist.bulk_approve(db, admin, [a.id])  # nothing approved: no event
    db.commit()

    for who in (admin, other_admin):
        got = [(e["payload"]["action"], e["payload"]["entryIds"], e["payload"]["by"]) for e in events(who)]
        assert got == [("approve", [str(a.id)], admin.email), ("reject", [str(b.id)], other_admin.email),
                       ("approve", [str(c.id)], admin.email)]
    assert store.unread_count(db, admin.id) == 3  # only the three "awaits approval" notifications count

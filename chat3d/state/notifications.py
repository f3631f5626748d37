"""Notifications in the UI: the bell in the top bar (badge + latest few) and the notification center page.

Both read `chat3d.events.store` (only `notification.created` rows are notifications) and re-check the
signed-in user in every handler, because a client can send any event. They follow the tab's one event
stream (`chat3d/components/event_stream.py`): a `notification.created` event makes the bell re-read its
count and latest items, and the center re-read the page it shows. An event carries nothing that is
trusted: it only says "look again". Marking read anywhere updates both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from chat3d.components.api_script import navigate
from chat3d.db.engine import session_scope
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.events import store
from chat3d.events import types as ev
from chat3d.state.auth import AuthState, safe_next

BELL_ITEMS = 5
PAGE_SIZE = 20
MAX_BADGE = 99


@dataclass
class NotificationView:
    id: int = 0
    title: str = ""
    body: str = ""
    link: str = ""
    when: str = ""
    when_iso: str = ""
    unread: bool = False


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative_time(value: str | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', '4 days ago', then the date ('2025-03-01')."""
    moment = _parse_iso(value)
    if moment is None:
        return ""
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return dates.day(moment)


def notification_view(item: dict[str, Any], now: datetime | None = None) -> NotificationView:
    """One store item (`list_notifications`) as the page shows it; unknown payloads still get a title."""
    payload = item.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    title = str(payload.get("title") or "").strip() or "Notification"
    link = str(payload.get("link") or payload.get("url") or "")  # producers use either name
    return NotificationView(
        id=int(item.get("id") or 0),
        title=title[:200],
        body=str(payload.get("body") or payload.get("text") or "")[:500],
        link=safe_next(link, "") if link else "",
        when=relative_time(item.get("createdAt"), now),
        when_iso=str(item.get("createdAt") or ""),
        unread=item.get("readAt") is None,
    )


def follow(link: str):
    """Go to a notification's link: same-site paths only; `/api/...` (a download) is a full page load."""
    target = safe_next(link, "") if link else ""
    if not target:
        return None
    if target.startswith("/api/"):
        return rx.call_script(navigate(target))
    return rx.redirect(target)


def badge_text(count: int) -> str:
    return f"{MAX_BADGE}+" if count > MAX_BADGE else str(count)


def bell_label(count: int) -> str:
    return f"Notifications ({count} unread)" if count > 0 else "Notifications"


async def _user_id(state: rx.State) -> uuid.UUID | None:
    auth = await state.get_state(AuthState)
    return auth._current_user_id()


class NotificationState(rx.State):
    """The bell: unread count and the latest few notifications (small; the center has its own state)."""

    unread: rx.Field[int] = rx.field(0)
    recent: rx.Field[list[NotificationView]] = rx.field(default_factory=list)

    @rx.var
    def label(self) -> str:
        return bell_label(self.unread)

    @rx.var
    def badge(self) -> str:
        return badge_text(self.unread)

    def _reload(self, uid: uuid.UUID) -> None:
        with session_scope() as session:
            items, _ = store.list_notifications(session, uid, limit=BELL_ITEMS)
            self.unread = store.unread_count(session, uid)
        self.recent = [notification_view(i) for i in items]

    def _clear(self) -> None:
        self.unread, self.recent = 0, []

    async def _refresh_all(self, uid: uuid.UUID) -> None:
        """Re-read the bell and, when the center page is open, the center too."""
        self._reload(uid)
        if (self.router.url.path or "").rstrip("/") == "/notifications":
            center = await self.get_state(NotificationCenterState)
            if center.loaded:
                center._reload(uid)

    async def _refresh(self) -> uuid.UUID | None:
        uid = await _user_id(self)
        if uid is None:
            self._clear()
        else:
            self._reload(uid)
        return uid

    @rx.event
    async def refresh(self):
        """On mount of the bell (every signed-in page)."""
        await self._refresh()

    @rx.event
    async def popover_changed(self, is_open: bool):
        """Opening the popover re-reads, so the relative times are fresh."""
        if is_open:
            await self._refresh()

    @rx.event
    async def on_event(self, event: dict):
        """`notification.created` from the stream: re-read; a waitlist request also refreshes the admin console."""
        if not isinstance(event, dict) or event.get("type") != ev.NOTIFICATION_CREATED:
            return
        uid = await _user_id(self)
        if uid is None:
            self._clear()
            return
        await self._refresh_all(uid)
        payload = event.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        if str(payload.get("kind") or "").startswith("waitlist."):
            from chat3d.state.admin import AdminState

            admin = await self.get_state(AdminState)
            admin._live_waitlist_changed()

    @rx.event
    async def open_item(self, notification_id: int, link: str):
        """A click on a notification in the bell: it is read now; follow its link if it has one."""
        uid = await _user_id(self)
        if uid is None:
            self._clear()
            return
        try:
            with session_scope() as session:
                store.mark_read(session, uid, int(notification_id))
        except (DomainError, ValueError, TypeError):
            pass
        await self._refresh_all(uid)
        return follow(link)

    @rx.event
    async def mark_all_read(self):
        uid = await _user_id(self)
        if uid is None:
            self._clear()
            return
        with session_scope() as session:
            store.mark_all_read(session, uid)
        await self._refresh_all(uid)


class NotificationCenterState(rx.State):
    """/notifications: every notification, newest first, PAGE_SIZE at a time ("Load more")."""

    items: rx.Field[list[NotificationView]] = rx.field(default_factory=list)
    total: int = 0
    loaded: bool = False

    @rx.var
    def has_more(self) -> bool:
        return len(self.items) < self.total

    @rx.var
    def is_empty(self) -> bool:
        return self.loaded and self.total == 0

    def _read_page(self, uid: uuid.UUID, limit: int, offset: int) -> list[NotificationView]:
        with session_scope() as session:
            items, self.total = store.list_notifications(session, uid, limit=limit, offset=offset)
        return [notification_view(i) for i in items]

    def _reload(self, uid: uuid.UUID) -> None:
        """Re-read from the top as many items as are shown (at least one page): new ones appear first."""
        self.items = self._read_page(uid, max(PAGE_SIZE, len(self.items)), 0)
        self.loaded = True

    async def _sync_bell(self, uid: uuid.UUID) -> None:
        (await self.get_state(NotificationState))._reload(uid)

    @rx.event
    async def on_load(self):
        uid = await _user_id(self)
        if uid is None:
            self.items, self.total, self.loaded = [], 0, False
            return
        self.items = []
        self._reload(uid)

    @rx.event
    async def load_more(self):
        uid = await _user_id(self)
        if uid is None:
            return
        more = self._read_page(uid, PAGE_SIZE, len(self.items))
        seen = {i.id for i in self.items}
        self.items = [*self.items, *(m for m in more if m.id not in seen)]

    async def _mark_read(self, notification_id: int) -> bool:
        """Mark one read (idempotent; another user's id is refused by the store), then re-read both views."""
        uid = await _user_id(self)
        if uid is None:
            return False
        try:
            with session_scope() as session:
                store.mark_read(session, uid, int(notification_id))
        except (DomainError, ValueError, TypeError):
            pass
        self._reload(uid)
        await self._sync_bell(uid)
        return True

    @rx.event
    async def mark_read(self, notification_id: int):
        await self._mark_read(notification_id)

    @rx.event
    async def open_item(self, notification_id: int, link: str):
        """A click on a notification's link: it is read now, and the link is followed (same site only)."""
        if await self._mark_read(notification_id):
            return follow(link)

    @rx.event
    async def mark_all_read(self):
        uid = await _user_id(self)
        if uid is None:
            return
        with session_scope() as session:
            store.mark_all_read(session, uid)
        self._reload(uid)
        await self._sync_bell(uid)

"""The chat thread: the open chat's items, live progress, streamed text, ratings, regenerate, stop.

Items come from the domain layer (never from the browser); every handler re-checks the signed-in user
through AuthState, because a client can send any event. Live updates arrive two ways: the app shell's
EventSource (one per tab) forwards each SSE event to `on_event` (durable state: item changed, query moved stage), and
a background task per running query relays the in-process streamed text (`chat3d.pipeline.live`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats, versions
from chat3d.domain.errors import DomainError
from chat3d.events import types as ev
from chat3d.state.auth import AuthState
from chat3d.state.versions import VersionsState
from chat3d.state.chat_view import (
    ACTIVE, TERMINAL, ItemView, add_progress, item_view, pending_query_id, state_label,
)

PAGE_SIZE = 50
WATCH_LIMIT_S = 900.0
LET_DELTA_LEAVE = 5  # event-loop turns an optimistic handler yields before its database work


# Keeps the thread scrolled to its end while it grows (a reply streaming in, its size line and buttons arriving
# when it completes), unless the reader scrolled up. Only the thread's own box scrolls: `scrollIntoView` (what
# rx.scroll_to does) also scrolled the page, which on a phone moved the header and pane switcher out of sight.
_STICK_TO_END = """(() => {
  const box = document.getElementById('thread-scroll');
  if (!box) { return; }
  const end = () => { box.scrollTop = box.scrollHeight; };
  if (!box.dataset.stick) {
    box.dataset.stick = '1';
    box.addEventListener('scroll', () => {
      box.atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    }, {passive: true});
    const follow = () => { if (box.atEnd) { end(); } };
    new ResizeObserver(follow).observe(box.firstElementChild || box);
    new MutationObserver(follow).observe(box, {childList: true, subtree: true, characterData: true});
  }
  box.atEnd = true;
  end();
  requestAnimationFrame(end);
})()"""


def scroll_thread_end():
    """Scroll the thread (only it, never the page) to its end and keep it there while new content arrives."""
    return rx.call_script(_STICK_TO_END)


def _plain(value):
    """The object behind Reflex's mutation-tracking proxy (state lists hand out proxied elements)."""
    return getattr(value, "__wrapped__", value)


def context_id_from_path(path: str) -> str:
    """`/chat/<id>` -> `<id>`; anything else -> ''."""
    parts = [p for p in (path or "").split("?")[0].split("/") if p]
    if len(parts) >= 2 and parts[0] == "chat":
        return parts[1]
    return ""


def _rerunnable(session, item_ids: list[str]) -> set[str]:
    """Which of these answers have a request behind them that Regenerate can run again (the rule of
    `queries.regenerate`): an imported part or an edited version has none."""
    from sqlmodel import or_, select

    from chat3d.db.models import Query

    ids = []
    for i in item_ids:
        try:
            ids.append(uuid.UUID(i))
        except ValueError:
            continue
    if not ids:
        return set()
    rows = session.exec(select(Query.assistant_item_id, Query.regenerates_item_id)
                        .where(or_(Query.assistant_item_id.in_(ids), Query.regenerates_item_id.in_(ids)))).all()
    wanted = {str(i) for i in ids}
    return {str(v) for row in rows for v in row if v is not None and str(v) in wanted}


def _query_states(session, owner_id: uuid.UUID, query_ids: list[str]) -> dict[str, tuple[str, int]]:
    from sqlmodel import select

    from chat3d.db.models import Query

    ids = []
    for q in query_ids:
        try:
            ids.append(uuid.UUID(q))
        except ValueError:
            continue
    if not ids:
        return {}
    rows = session.exec(select(Query).where(Query.id.in_(ids), Query.owner_id == owner_id)).all()
    return {str(r.id): (r.state, r.round) for r in rows}


class RatingsState(rx.State):
    """The open chat's thumbs: item id -> -1 / 1 for rated answers (absent = not rated).

    A state of its own, apart from ThreadState: a rating event loads, changes and sends only this small state, and
    in the browser only the thumbs components subscribe to it, so pressing a thumb re-renders that answer's thumbs
    and nothing else (not the thread's list, not the other components reading ThreadState). ThreadState keeps it
    in step whenever it loads or reloads items (`_loaded`, `_reloaded`); ItemView.rating is only the value read from
    the database when the item was loaded."""

    ratings: dict[str, int] = {}
    _context_id: str = ""
    _answers: list[str] = []  # the open chat's loaded answers: the items a thumb may rate

    def _set(self, item_id: str, rating: int) -> None:
        """One entry of `ratings` (assigned only when it changes, so an unchanged rating sends nothing)."""
        if self.ratings.get(item_id, 0) == rating:
            return
        ratings = {k: v for k, v in self.ratings.items() if k != item_id}
        if rating:
            ratings[item_id] = rating
        self.ratings = ratings

    def _loaded(self, context_id: str, views: list[ItemView], *, earlier: bool = False) -> None:
        """Items of `context_id` were loaded (a page, or an earlier page added in front)."""
        answers = [v.id for v in views if v.role == "assistant"]
        loaded = {v.id: v.rating for v in views if v.rating}
        if earlier and context_id == self._context_id:
            self._answers = [*answers, *self._answers]
            loaded = {**self.ratings, **loaded}
        else:
            self._answers = answers
        self._context_id = context_id
        if loaded != self.ratings:
            self.ratings = loaded

    def _reloaded(self, context_id: str, view: ItemView) -> None:
        """One item of the open chat was (re)loaded: its stored rating, and it may be rated."""
        if context_id != self._context_id:
            return
        if view.role == "assistant" and view.id not in self._answers:
            self._answers = [*self._answers, view.id]
        self._set(view.id, view.rating)

    @rx.event
    async def rate(self, item_id: str, value: int):
        """Thumbs up/down; choosing the same thumb again clears it.

        Optimistic: the thumbs change at once (a first delta with only `ratings`), then the signed-in user is
        re-checked and the rating written through the domain (which checks the item is the user's, in this
        chat), off the event loop so the first delta leaves while the database works; the stored value is
        shown, and on any refusal the previous rating comes back (with a toast). Only this small state (and
        AuthState, for the user) is loaded: not the thread's items."""
        if value not in (-1, 1) or item_id not in self._answers:
            return
        before = self.ratings.get(item_id, 0)
        rating = 0 if before == value else value
        self._set(item_id, rating)
        yield
        auth = await self.get_state(AuthState)
        context_id = self._context_id

        def write() -> tuple[object, int]:
            user = auth._current_user()  # a database read: in this thread too
            if user is None:
                return None, before
            with session_scope() as s:
                return user, int(chats.rate_item(s, user.id, context_id, item_id, rating).rating or 0)

        for _ in range(LET_DELTA_LEAVE):  # let the socket's writer task send the first delta before the database
            await asyncio.sleep(0)      # work (in a thread, but it holds the GIL while in Python) competes with it
        try:
            user, stored = await asyncio.to_thread(write)
        except DomainError as exc:
            self._set(item_id, before)
            yield rx.toast.error(str(exc))
            return
        auth._set_user(user)
        self._set(item_id, stored)  # only `ratings` changes


class ThreadState(rx.State):
    """The open chat and its items (the latest PAGE_SIZE, more on "Load earlier"); the thumbs are RatingsState's."""

    active_id: str = ""
    chat_name: str = ""
    items: list[ItemView] = []
    # Live per-item updates, also apart from `items` (a running query's chips, its streamed text): item id ->
    # the chip timeline seen in this tab / the text streamed so far. The bubble shows them over the item's own.
    progress: dict[str, list[str]] = {}
    streaming: dict[str, str] = {}
    total: int = 0
    first_offset: int = 0
    loaded: bool = False
    error: str = ""
    _versions: dict[str, int] = {}
    _units: str = "mm"  # the open chat's units; answers show inches first in an inch chat
    _watching: list[str] = []

    @rx.var
    def has_earlier(self) -> bool:
        return self.first_offset > 0

    @rx.var
    def running_query_id(self) -> str:
        return next((i.query_id for i in reversed(self.items) if i.pending and i.query_id), "")

    @rx.var
    def is_running(self) -> bool:
        return any(i.pending for i in self.items)

    @rx.var
    def is_empty(self) -> bool:
        return self.loaded and not self.items

    async def _uid(self) -> uuid.UUID | None:
        auth = await self.get_state(AuthState)
        return auth._current_user_id()

    # --- building views ------------------------------------------------------------------------

    def _view(self, session, uid: uuid.UUID, item, states: dict[str, tuple[str, int]] | None = None,
              rerunnable: set[str] | None = None) -> ItemView:
        item_id = str(item.id)
        qid = pending_query_id(item.segments)
        if qid and states is None:
            states = _query_states(session, uid, [qid])
        if rerunnable is None:
            rerunnable = _rerunnable(session, [item_id]) if item.role == "assistant" else set()
        st, rnd = (states or {}).get(qid, ("", 0))
        if item_id not in self._versions and versions.model_of(item) is not None:
            self._number_versions(session, item.context_id)  # a version new since the chat was loaded
        version = self._versions.get(item_id, 0)
        return item_view(item_id, item.role, item.segments, rating=item.rating, version=version,
                         progress=self.get_value("progress").get(item_id), query_state=st, query_round=rnd,
                         units=self._units, can_regenerate=item_id in rerunnable)

    def _number_versions(self, session, context_id) -> None:
        """Number the chat's versions as the Versions tab does (chat3d.domain.versions.list_versions): every answer
        with a model, in order, whether it came from a prompt, a regeneration, an edit or an import."""
        from chat3d.db.models import ChatContext

        ctx = session.get(ChatContext, context_id)
        found = versions.version_items(session, ctx) if ctx is not None else []
        self._versions = {str(v.id): n for n, v in enumerate(found, start=1)}

    async def _load_items(self, uid: uuid.UUID, context_id: str, *, earlier: bool = False) -> None:
        with session_scope() as s:
            ctx = chats.get_context(s, uid, context_id)
            self.chat_name = ctx.name
            self._units = ctx.units
            total = chats.list_items(s, uid, ctx.id, limit=1).total
            if earlier:
                start = max(0, self.first_offset - PAGE_SIZE)
                limit = self.first_offset - start
            else:
                start = max(0, total - PAGE_SIZE)
                limit = PAGE_SIZE
            page = chats.list_items(s, uid, ctx.id, limit=limit, offset=start)
            states = _query_states(s, uid, [q for i in page.items if (q := pending_query_id(i.segments))])
            rerunnable = _rerunnable(s, [str(i.id) for i in page.items if i.role == "assistant"])
            if not earlier:
                self._number_versions(s, ctx.id)
            views = [self._view(s, uid, i, states, rerunnable) for i in page.items]
            context_id = str(ctx.id)
        self.total = total
        self.first_offset = start
        self.items = views + [_plain(i) for i in self.items] if earlier else views
        (await self.get_state(RatingsState))._loaded(context_id, views, earlier=earlier)

    def _latest_model_item(self) -> str:
        return next((i.id for i in reversed(self.items) if i.has_model), "")

    def _watch_events(self) -> list:
        return [ThreadState.watch_query(i.query_id, i.id) for i in self.items if i.pending and i.query_id]

    # --- page load --------------------------------------------------------------------------------

    @rx.event
    async def load_page(self):
        """On load of /chat and /chat/[context_id]: open the chat (or the last one, or the empty state)."""
        from chat3d.state.chat_composer import ComposerState
        from chat3d.state.chat_contexts import ContextsState
        from chat3d.state.chat_workbench import WorkbenchState

        uid = await self._uid()
        if uid is None:
            return
        contexts = await self.get_state(ContextsState)
        contexts._reload(uid)
        composer = await self.get_state(ComposerState)
        workbench = await self.get_state(WorkbenchState)
        cid = context_id_from_path(self.router.url.path)
        self.error = ""
        if not cid:
            with session_scope() as s:
                last = chats.list_contexts(s, uid, limit=1).items
                last_id = str(last[0].id) if last else ""
            if last_id:
                return rx.redirect(f"/chat/{last_id}", replace=True)
            self.active_id, self.chat_name, self.items, self.total, self.first_offset = "", "", [], 0, 0
            (await self.get_state(RatingsState))._loaded("", [])
            self.loaded = True
            workbench._clear()
            composer._load_models(None)
            (await self.get_state(VersionsState))._follow(uid, "")
            return
        if cid != self.active_id:
            self.items, self.progress, self.streaming, self._versions = [], {}, {}, {}
        try:
            await self._load_items(uid, cid)
        except DomainError as exc:
            self.active_id, self.items, self.total, self.first_offset = "", [], 0, 0
            (await self.get_state(RatingsState))._loaded("", [])
            self.loaded = True
            self.error = str(exc)
            workbench._clear()
            composer._load_models(None)
            (await self.get_state(VersionsState))._follow(uid, "")
            return
        self.active_id = cid
        self.loaded = True
        contexts.active_id = cid
        with session_scope() as s:
            composer._load_models(chats.get_context(s, uid, cid))
        latest = self._latest_model_item()
        if latest:
            workbench._show_item(uid, latest)
        else:
            workbench._clear()
        (await self.get_state(VersionsState))._follow(uid, cid)
        return [*self._watch_events(), scroll_thread_end()]

    @rx.event
    async def load_earlier(self):
        uid = await self._uid()
        if uid is None or not self.active_id or self.first_offset <= 0:
            return
        try:
            await self._load_items(uid, self.active_id, earlier=True)
        except DomainError as exc:
            self.error = str(exc)

    # --- live updates -------------------------------------------------------------------------------

    def _replace_or_append(self, view: ItemView) -> bool:
        """Put a fresh view in place; True when it was new (appended)."""
        if not view.pending and view.id in self.streaming:  # its final text is in the view now
            self.streaming = {k: v for k, v in self.get_value("streaming").items() if k != view.id}
        for idx, existing in enumerate(self.items):
            if existing.id == view.id:
                items = [_plain(i) for i in self.items]
                items[idx] = view
                self.items = items
                return False
        self.items = [*(_plain(i) for i in self.items), view]
        self.total += 1
        return True

    async def _reload_item(self, uid: uuid.UUID, item_id: str) -> ItemView | None:
        try:
            with session_scope() as s:
                item = chats.get_item(s, uid, item_id, self.active_id)
                view = self._view(s, uid, item)
        except DomainError:
            return None
        self._replace_or_append(view)
        (await self.get_state(RatingsState))._reloaded(self.active_id, view)
        return view

    async def _answer_finished(self, uid: uuid.UUID, view: ItemView | None) -> bool:
        """An answer that is no longer pending and has a model: show it in the workbench and refresh the contexts
        pane (the chat's order and its current version's thumbnail). Called by whichever path sees the end first:
        the SSE item event, the SSE state event, or the watcher's poll when the stream missed both."""
        from chat3d.state.chat_contexts import ContextsState
        from chat3d.state.chat_workbench import WorkbenchState

        if view is None or view.pending or not view.has_model:
            return False
        (await self.get_state(ContextsState))._reload(uid)
        (await self.get_state(WorkbenchState))._show_item(uid, view.id)
        (await self.get_state(VersionsState))._follow(uid, self.active_id)  # the new version is listed at once
        return True

    def _set_progress(self, item_id: str, label: str) -> None:
        """One more chip for an item: only `progress` is sent (and only when the timeline changed)."""
        current = self.get_value("progress")
        chips = add_progress(list(current.get(item_id, [])), label)
        if chips != current.get(item_id):
            self.progress = {**current, item_id: chips}

    def _set_stream_text(self, item_id: str, text: str) -> None:
        """The text streamed so far for a pending item: only `streaming` is sent, never the item list."""
        if not any(i.id == item_id and i.pending for i in self.get_value("items")):
            return
        current = self.get_value("streaming")
        if current.get(item_id) != text:
            self.streaming = {**current, item_id: text}

    @rx.event
    async def on_event(self, event: dict):
        """One SSE event (forwarded by the app shell's EventSource, on every signed-in page): refresh what it
        names; off the chat pages there is nothing to refresh (the chat page reloads on load)."""
        from chat3d.state.chat_contexts import ContextsState

        if not isinstance(event, dict):
            return
        etype = event.get("type")
        payload = event.get("payload") or {}
        if etype not in (ev.CHAT_ITEM_UPDATED, ev.CHAT_QUERY_STATE) or not isinstance(payload, dict):
            return
        if not (self.router.url.path or "").startswith("/chat"):
            return
        uid = await self._uid()
        if uid is None:
            return
        ctx_id = str(payload.get("contextId") or "")
        if ctx_id != self.active_id:
            if etype == ev.CHAT_ITEM_UPDATED:
                (await self.get_state(ContextsState))._reload(uid)
            return
        if etype == ev.CHAT_QUERY_STATE:
            item_id = str(payload.get("assistantItemId") or "")
            state = str(payload.get("state") or "")
            if not item_id:
                return
            self._set_progress(item_id, state_label(state, int(payload.get("round") or 0)))
            if state in TERMINAL and any(i.id == item_id and i.pending for i in self.items):  # its item event was missed
                await self._answer_finished(uid, await self._reload_item(uid, item_id))
            return
        item_id = str(payload.get("itemId") or "")
        known = any(i.id == item_id for i in self.items)
        view = await self._reload_item(uid, item_id)
        if view is None:
            return
        finished = await self._answer_finished(uid, view)
        if not finished and (payload.get("role") == "user" or not known):
            (await self.get_state(ContextsState))._reload(uid)  # the chat moves to the top of the pane
        events: list = []
        if view.pending and view.query_id:
            events.append(ThreadState.watch_query(view.query_id, view.id))
        if not known:
            events.append(scroll_thread_end())
        return events

    @rx.event(background=True)
    async def watch_query(self, query_id: str, item_id: str):
        """While a query runs: relay its streamed text (the live-text channel of the event bus) to this tab."""
        from chat3d.pipeline import live

        async with self:
            if query_id in self._watching:
                return
            uid = await self._uid()
            if uid is None:
                return
            self._watching = [*self._watching, query_id]

        def owned() -> bool:
            with session_scope() as s:
                return query_id in _query_states(s, uid, [query_id])

        # Before subscribing: a client can send this event with any query id, and the live text of someone
        # else's query must never reach this tab.
        if not await asyncio.to_thread(owned):
            async with self:
                self._watching = [q for q in self._watching if q != query_id]
            return
        queue = live.subscribe(query_id)
        try:
            # Progress and the finished answer arrive as events (chat.query.state, chat.item.updated), replayed
            # after a reconnect by Last-Event-ID; this loop only relays text and ends once the item is answered.
            deadline = time.monotonic() + WATCH_LIMIT_S
            while time.monotonic() < deadline:
                try:
                    text = await asyncio.wait_for(queue.get(), timeout=1.0)
                except asyncio.TimeoutError:
                    text = None
                async with self:
                    if not any(i.id == item_id and i.pending for i in self.items):
                        return
                    if text is not None:
                        self._set_stream_text(item_id, text)
        finally:
            live.unsubscribe(query_id, queue)
            async with self:
                self._watching = [q for q in self._watching if q != query_id]

    # --- actions on answers --------------------------------------------------------------------------

    @rx.event
    async def regenerate(self, item_id: str, codegen_model: str = ""):
        from chat3d.pipeline import queries
        from chat3d.pipeline.jobs import enqueue_after_commit

        uid = await self._uid()
        if uid is None:
            return
        try:
            with session_scope() as s:
                sub = queries.regenerate(s, uid, item_id, codegen_model_id=codegen_model or None)
                qid, aid = sub.query.id, str(sub.assistant_item.id)
                enqueue_after_commit(s, qid)
        except DomainError as exc:
            return rx.toast.error(str(exc))
        await self._reload_item(uid, aid)
        return [ThreadState.watch_query(str(qid), aid), scroll_thread_end()]

    @rx.event
    async def stop(self):
        from chat3d.pipeline import queries
        from chat3d.pipeline.jobs import get_jobs

        uid = await self._uid()
        qid = self.running_query_id
        if uid is None or not qid:
            return
        try:
            with session_scope() as s:
                q = queries.cancel(s, uid, qid)
                query_uuid, item_id = q.id, str(q.assistant_item_id or "")
        except DomainError as exc:
            return rx.toast.error(str(exc))
        await get_jobs().cancel(query_uuid)
        if item_id:
            self._set_progress(item_id, state_label("cancelled"))
            await self._reload_item(uid, item_id)

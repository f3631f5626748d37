"""The chat thread: the open chat's items, live progress, streamed text, ratings, regenerate, stop.

Items come from the domain layer (never from the browser); every handler re-checks the signed-in user,
because a client can send any event. Live updates arrive two ways: the app shell's EventSource (one per tab)
forwards each SSE event to `chat_reactions.ChatReactionsState.on_event` (durable state: item changed, query
moved stage), which refreshes the thread through this module's functions, and a background task per running
query relays the in-process streamed text (`chat3d.pipeline.live`).

The module-level functions are what other modules call (chat3d.state.chat_reactions): plain functions taking
the state, because Reflex makes every public method of a state an event handler that a client could send.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import User
from chat3d.domain import chats, versions
from chat3d.domain.errors import DomainError
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import ItemView, add_progress, item_view, pending_query_id, state_label

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


def _ratings_loaded(ratings: RatingsState, context_id: str, views: list[ItemView], *, earlier: bool = False) -> None:
    """Items of `context_id` were loaded (a page, or an earlier page added in front)."""
    answers = [v.id for v in views if v.role == "assistant"]
    loaded = {v.id: v.rating for v in views if v.rating}
    if earlier and context_id == ratings._context_id:
        ratings._answers = [*answers, *ratings._answers]
        loaded = {**ratings.ratings, **loaded}
    else:
        ratings._answers = answers
    ratings._context_id = context_id
    if loaded != ratings.ratings:
        ratings.ratings = loaded


def _rating_reloaded(ratings: RatingsState, context_id: str, view: ItemView) -> None:
    """One item of the open chat was (re)loaded: its stored rating, and it may be rated."""
    if context_id != ratings._context_id:
        return
    if view.role == "assistant" and view.id not in ratings._answers:
        ratings._answers = [*ratings._answers, view.id]
    ratings._set(view.id, view.rating)


class RatingsState(rx.State):
    """The open chat's thumbs: item id -> -1 / 1 for rated answers (absent = not rated).

    A state of its own, apart from ThreadState: a rating event loads, changes and sends only this small state, and
    in the browser only the thumbs components subscribe to it, so pressing a thumb re-renders that answer's thumbs
    and nothing else (not the thread's list, not the other components reading ThreadState). ThreadState keeps it
    in step whenever it loads or reloads items (`_ratings_loaded`, `_rating_reloaded`); ItemView.rating is only the value read from
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

        def write() -> tuple[User | None, int]:
            user = auth._current_user()  # a database read: in this thread too
            if user is None:
                return None, before
            with session_scope() as s:
                return user, int(chats.rate_item(s, user.id, context_id, item_id, rating).rating or 0)

        for _ in range(LET_DELTA_LEAVE):  # let the socket's writer task send the first delta before the database
            await asyncio.sleep(0)  # work (in a thread, but it holds the GIL while in Python) competes with it
        try:
            user, stored = await asyncio.to_thread(write)
        except DomainError as exc:
            self._set(item_id, before)
            yield rx.toast.error(str(exc))
            return
        auth._set_user(user)
        self._set(item_id, stored)  # only `ratings` changes


class ThreadState(rx.State):
    """The open chat's items (the latest PAGE_SIZE, more on "Load earlier"); which chat is open is
    ActiveChatState's, the thumbs are RatingsState's."""

    items: rx.Field[list[ItemView]] = rx.field(default_factory=list)
    # Live per-item updates, also apart from `items` (a running query's chips, its streamed text): item id ->
    # the chip timeline seen in this tab / the text streamed so far. The bubble shows them over the item's own.
    progress: rx.Field[dict[str, list[str]]] = rx.field(default_factory=dict)
    streaming: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
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

    # --- building views ------------------------------------------------------------------------

    def _view(
        self,
        session,
        uid: uuid.UUID,
        item,
        states: dict[str, tuple[str, int]] | None = None,
        rerunnable: set[str] | None = None,
    ) -> ItemView:
        item_id = str(item.id)
        qid = pending_query_id(item.segments)
        if qid and states is None:
            states = chats.query_states(session, uid, [qid])
        if rerunnable is None:
            rerunnable = chats.rerunnable_items(session, [item_id]) if item.role == "assistant" else set()
        st, rnd = (states or {}).get(qid, ("", 0))
        if item_id not in self._versions and versions.model_of(item) is not None:
            self._versions = versions.version_numbers(session, item.context_id)  # a version new since the load
        version = self._versions.get(item_id, 0)
        return item_view(
            item_id,
            item.role,
            item.segments,
            rating=item.rating,
            version=version,
            progress=self.get_value("progress").get(item_id),
            query_state=st,
            query_round=rnd,
            units=self._units,
            can_regenerate=item_id in rerunnable,
        )

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

    def _set_stream_text(self, item_id: str, text: str) -> None:
        """The text streamed so far for a pending item: only `streaming` is sent, never the item list."""
        if not any(i.id == item_id and i.pending for i in self.get_value("items")):
            return
        current = self.get_value("streaming")
        if current.get(item_id) != text:
            self.streaming = {**current, item_id: text}

    @rx.event
    async def load_earlier(self):
        uid = await signed_in_user_id(self)
        context_id = (await self.get_state(ActiveChatState)).context_id
        if uid is None or not context_id or self.first_offset <= 0:
            return
        try:
            await load_items(self, uid, context_id, earlier=True)
        except DomainError as exc:
            self.error = str(exc)

    @rx.event(background=True)
    async def watch_query(self, query_id: str, item_id: str):
        """While a query runs: relay its streamed text (the live-text channel of the event bus) to this tab."""
        from chat3d.pipeline import live

        async with self:
            if query_id in self._watching:
                return
            uid = await signed_in_user_id(self)
            if uid is None:
                return
            self._watching = [*self._watching, query_id]

        def owned() -> bool:
            with session_scope() as s:
                return query_id in chats.query_states(s, uid, [query_id])

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
                except TimeoutError:
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

        uid = await signed_in_user_id(self)
        if uid is None:
            return
        try:
            with session_scope() as s:
                sub = queries.regenerate(s, uid, item_id, codegen_model_id=codegen_model or None)
                qid, aid = sub.query.id, str(sub.assistant_item.id)
                enqueue_after_commit(s, qid)
        except DomainError as exc:
            return rx.toast.error(str(exc))
        await reload_item(self, uid, aid)
        return [ThreadState.watch_query(str(qid), aid), scroll_thread_end()]  # type: ignore[misc]  # an @rx.event handler called with arguments

    @rx.event
    async def stop(self):
        from chat3d.pipeline import queries
        from chat3d.pipeline.jobs import get_jobs

        uid = await signed_in_user_id(self)
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
            add_chip(self, item_id, state_label("cancelled"))
            await reload_item(self, uid, item_id)


# --- what other modules call (chat_reactions) ---------------------------------------------------------------


async def load_items(thread: ThreadState, uid: uuid.UUID, context_id: str, *, earlier: bool = False) -> None:
    """Load the latest page of a chat's items (or the page before the loaded ones) and its name into the header.
    Raises DomainError for a chat that is not the user's."""
    with session_scope() as s:
        ctx = chats.get_context(s, uid, context_id)
        name = ctx.name
        thread._units = ctx.units
        total = chats.list_items(s, uid, ctx.id, limit=1).total
        if earlier:
            start = max(0, thread.first_offset - PAGE_SIZE)
            limit = thread.first_offset - start
        else:
            start = max(0, total - PAGE_SIZE)
            limit = PAGE_SIZE
        page = chats.list_items(s, uid, ctx.id, limit=limit, offset=start)
        states = chats.query_states(s, uid, [q for i in page.items if (q := pending_query_id(i.segments))])
        rerunnable = chats.rerunnable_items(s, [str(i.id) for i in page.items if i.role == "assistant"])
        if not earlier:
            thread._versions = versions.version_numbers(s, ctx.id)
        views = [thread._view(s, uid, i, states, rerunnable) for i in page.items]
        context_id = str(ctx.id)
    thread.total = total
    thread.first_offset = start
    thread.items = views + [_plain(i) for i in thread.items] if earlier else views
    (await thread.get_state(ActiveChatState)).name = name
    _ratings_loaded(await thread.get_state(RatingsState), context_id, views, earlier=earlier)


async def open_items(thread: ThreadState, uid: uuid.UUID, context_id: str) -> None:
    """Show a chat's items (a chat other than the open one starts from nothing: no chips, no streamed text);
    the caller then makes it the open chat. Raises DomainError for a chat that is not the user's; the thread
    is then empty with the error."""
    if context_id != (await thread.get_state(ActiveChatState)).context_id:
        thread.items, thread.progress, thread.streaming, thread._versions = [], {}, {}, {}
    thread.error = ""
    try:
        await load_items(thread, uid, context_id)
    except DomainError as exc:
        await clear_items(thread, error=str(exc))
        raise
    thread.loaded = True


async def clear_items(thread: ThreadState, *, error: str = "") -> None:
    """No chat open: the empty thread (with why, when a chat could not be opened)."""
    thread.items, thread.total, thread.first_offset = [], 0, 0
    thread.loaded, thread.error = True, error
    (await thread.get_state(ActiveChatState)).name = ""
    _ratings_loaded(await thread.get_state(RatingsState), "", [])


async def reload_item(thread: ThreadState, uid: uuid.UUID, item_id: str) -> ItemView | None:
    """One item of the open chat, fresh from the database (None when it is not the user's or not in this chat)."""
    context_id = (await thread.get_state(ActiveChatState)).context_id
    try:
        with session_scope() as s:
            item = chats.get_item(s, uid, item_id, context_id)
            view = thread._view(s, uid, item)
    except DomainError:
        return None
    thread._replace_or_append(view)
    _rating_reloaded(await thread.get_state(RatingsState), context_id, view)
    return view


def add_chip(thread: ThreadState, item_id: str, label: str) -> None:
    """One more chip for an item: only `progress` is sent (and only when the timeline changed)."""
    current = thread.get_value("progress")
    chips = add_progress(list(current.get(item_id, [])), label)
    if chips != current.get(item_id):
        thread.progress = {**current, item_id: chips}


def is_pending(thread: ThreadState, item_id: str) -> bool:
    return any(i.id == item_id and i.pending for i in thread.items)


def has_item(thread: ThreadState, item_id: str) -> bool:
    return any(i.id == item_id for i in thread.items)


def latest_model_item(thread: ThreadState) -> str:
    """The newest loaded answer with a model: what the workbench shows when a chat opens."""
    return next((i.id for i in reversed(thread.items) if i.has_model), "")


def watch_events(thread: ThreadState) -> list:
    """A watcher for every loaded answer still running (their streamed text reaches this tab)."""
    return [ThreadState.watch_query(i.query_id, i.id) for i in thread.items if i.pending and i.query_id]  # type: ignore[misc]  # an @rx.event handler called with arguments

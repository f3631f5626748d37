"""ChatReactionsState.on_event: the chat page follows the SSE events the domain records (the app shell's EventSource
forwards each one). An item changed in the database shows up in the open chat, a query's stage moves its progress
chip; an event for another chat, an unknown or foreign item, or off the chat pages changes nothing.

The events fed in are the envelopes the domain wrote (`queries.submit_query` / `transition` / `finish`, read back
with `store.events_after`, exactly what /api/events/stream sends). The handlers run on a real Reflex state tree (no
browser) against a clean PostgreSQL database, with the signed-in user patched in, like test_thread_ratings.py.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import reflex as rx
from reflex.istate.data import ReflexURL, RouterData
from sqlmodel import Session

from chat3d.db.models import ItemRole, Query, QueryState
from chat3d.domain import chats, files
from chat3d.events import store
from chat3d.events import types as T
from chat3d.pipeline import queries
from chat3d.state.active_chat import ActiveChatState
from chat3d.state.auth import AuthState
from chat3d.state.chat import ThreadState, load_items
from chat3d.state.chat_contexts import ContextsState, reload_contexts  # on_event refreshes it
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_view import state_label
from chat3d.state.chat_workbench import WorkbenchState


def _router_at(path: str) -> RouterData:
    """The tab's router as Reflex sets it when the browser is at `path` (ThreadState reads `router.url.path`)."""
    return RouterData(url=ReflexURL(f"http://localhost:3000{path}"))


@pytest.fixture
def chat(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    """A signed-in user's chat with one exchange, open in a tab at /chat/<id>; `feed()` hands that tab every event
    recorded for the user since the last feed, in order, as the SSE stream would."""
    user = make_user("live@example.com")
    monkeypatch.setattr(AuthState, "_current_user", lambda self: user)
    ctx = chats.create_context(db, user.id, name="Live")
    chats.add_item(db, ctx, ItemRole.user, [{"type": "text", "text": "a plate"}])
    chats.add_item(db, ctx, ItemRole.assistant, [{"type": "text", "text": "Here is a plate."}])
    db.commit()

    root = rx.State(_reflex_internal_init=True)
    root.router = _router_at(f"/chat/{ctx.id}")
    assert root.router.url.path == f"/chat/{ctx.id}"
    thread = root.get_substate(ThreadState.get_full_name().split(".")[1:])
    asyncio.run(load_items(thread, user.id, str(ctx.id)))
    _sub(thread, ActiveChatState).context_id = str(ctx.id)
    root._clean()
    cursor = {"id": store.latest_event_id(db, user.id)}

    def feed(expect_types: list[str] | None = None) -> list:
        events = store.events_after(db, user.id, cursor["id"])
        if expect_types is not None:
            assert [e["type"] for e in events] == expect_types
        returned = []
        for envelope in events:
            cursor["id"] = envelope["id"]
            returned.append(asyncio.run(_sub(thread, ChatReactionsState).on_event(envelope)))
        return returned

    return user, ctx, thread, feed


def _sub(thread: ThreadState, cls):
    """Another state of the tab's tree (ThreadState's sibling)."""
    return thread.parent_state.get_substate(cls.get_full_name().split(".")[1:])


def _item(thread: ThreadState, item_id: str):
    return next((i for i in thread.items if i.id == item_id), None)


def test_a_new_answer_appears_and_its_progress_chip_follows_the_query(db: Session, chat) -> None:
    user, ctx, thread, feed = chat
    before = [i.id for i in thread.items]
    assert thread.progress == {}

    sub = queries.submit_query(db, user.id, ctx.id, "a 20 mm cube")  # prompt + pending answer + queued query
    qid, prompt_id, answer_id = sub.query.id, str(sub.user_item.id), str(sub.assistant_item.id)
    db.commit()
    returned = feed([T.CHAT_QUERY_STATE, T.CHAT_ITEM_UPDATED, T.CHAT_ITEM_UPDATED])

    assert [i.id for i in thread.items] == [*before, prompt_id, answer_id]
    assert thread.total == len(before) + 2
    assert _item(thread, prompt_id).text == "a 20 mm cube" and _item(thread, prompt_id).role == "user"
    answer = _item(thread, answer_id)
    assert answer.role == "assistant" and answer.pending and answer.query_id == str(qid)
    assert thread.is_running and thread.running_query_id == str(qid)
    assert thread.progress == {answer_id: [state_label("queued")]}
    # The new pending answer starts its live watcher, and the thread scrolls to it.
    assert any(getattr(e, "handler", None) and e.handler.fn.__name__ == "watch_query" for e in returned[-1])

    q = db.get(Query, qid)
    assert queries.transition(db, q, QueryState.codegen)
    db.commit()
    feed([T.CHAT_QUERY_STATE])
    assert thread.progress[answer_id] == ["Queued", "Writing code"]
    assert _item(thread, answer_id).pending  # a stage change alone does not reload the answer

    queries.transition(db, q, QueryState.repairing, round_=2)
    db.commit()
    feed([T.CHAT_QUERY_STATE])
    assert thread.progress[answer_id][-1] == "Repairing 2"

    queries.finish(db, q, QueryState.completed, "", segments=[{"type": "text", "text": "Here is your cube."}])
    db.commit()
    feed([T.CHAT_ITEM_UPDATED, T.CHAT_QUERY_STATE])
    answer = _item(thread, answer_id)
    assert answer.text == "Here is your cube." and not answer.pending
    assert not thread.is_running
    assert thread.progress[answer_id][-1] == "Completed"
    assert [i.id for i in thread.items] == [*before, prompt_id, answer_id]  # replaced in place, not appended


def _finish_with_model(db: Session, user, ctx, q: Query) -> str:
    """End a query the way the runner does: the answer's rendered files (with its PNG thumbnail), then `finish`."""
    refs = []
    for fmt in ("glb", "png"):
        row = files.store_bytes(db, user.id, f"<{fmt}/>".encode(), fmt=fmt, filename=f"model.{fmt}",
                                context_id=ctx.id, item_id=q.assistant_item_id, query_id=q.id)
        refs.append({"id": str(row.id), "format": fmt, "filename": row.filename, "size": row.size})
    queries.finish(db, q, QueryState.completed, "Done", segments=[
        {"type": "text", "text": "Here is your cube."},
        {"type": "model", "files": refs, "code": "result = None", "metrics": {"bbox_size_mm": [20, 20, 20]}},
    ])
    db.commit()
    return next(r["id"] for r in refs if r["format"] == "png")


@pytest.mark.parametrize("delivered", ["both", "state only"])
def test_a_finished_model_shows_in_the_workbench_and_as_the_chats_thumbnail(db: Session, chat, delivered) -> None:
    """Whichever of the two closing events reaches the tab (a stream that reconnected may miss one), the answer
    stops being pending, the workbench shows its model and the contexts pane shows its PNG as the chat's thumbnail."""
    user, ctx, thread, feed = chat
    root = thread.parent_state
    contexts = root.get_substate(ContextsState.get_full_name().split(".")[1:])
    workbench = root.get_substate(WorkbenchState.get_full_name().split(".")[1:])
    reload_contexts(contexts, user.id)
    assert [r.thumb_url for r in contexts.rows] == [""]
    sub = queries.submit_query(db, user.id, ctx.id, "a 20 mm cube")
    answer_id = str(sub.assistant_item.id)
    db.commit()
    feed()
    assert _item(thread, answer_id).pending

    thumb_id = _finish_with_model(db, user, ctx, db.get(Query, sub.query.id))
    events = store.events_after(db, user.id, store.latest_event_id(db, user.id) - 2)
    assert [e["type"] for e in events] == [T.CHAT_ITEM_UPDATED, T.CHAT_QUERY_STATE]
    for envelope in events if delivered == "both" else events[1:]:
        asyncio.run(_sub(thread, ChatReactionsState).on_event(envelope))

    answer = _item(thread, answer_id)
    assert not answer.pending and answer.has_model and answer.text == "Here is your cube."
    assert thread.progress[answer_id][-1] == "Completed"
    assert [r.thumb_url for r in contexts.rows] == [f"/api/files/{thumb_id}"]
    assert workbench.item_id == answer_id


def test_an_existing_item_changed_in_the_database_is_refreshed(db: Session, chat) -> None:
    user, ctx, thread, _feed = chat
    answer_id = next(i.id for i in thread.items if i.role == "assistant")
    item = chats.get_item(db, user.id, answer_id)
    item.segments = [{"type": "text", "text": "An edited plate."}]
    db.add(item)
    db.commit()
    asyncio.run(_sub(thread, ChatReactionsState).on_event({"id": 1, "type": T.CHAT_ITEM_UPDATED, "createdAt": "",
                                 "payload": {"contextId": str(ctx.id), "itemId": answer_id, "role": "assistant"}}))
    assert _item(thread, answer_id).text == "An edited plate." and len(thread.items) == 2


def test_events_for_another_chat_or_unknown_items_change_nothing(db: Session, chat, make_user) -> None:
    user, ctx, thread, feed = chat
    root = thread.parent_state
    snapshot = (list(thread.items), dict(thread.progress), thread.total)

    other = chats.create_context(db, user.id, name="Other")  # the same user's other chat: its own query runs
    db.commit()
    sub = queries.submit_query(db, user.id, other.id, "a cylinder")
    db.commit()
    queries.transition(db, db.get(Query, sub.query.id), QueryState.codegen)
    db.commit()
    feed([T.CHAT_QUERY_STATE, T.CHAT_ITEM_UPDATED, T.CHAT_ITEM_UPDATED, T.CHAT_QUERY_STATE])

    stranger = make_user("stranger@example.com")
    theirs = chats.create_context(db, stranger.id, name="Theirs")
    foreign = chats.add_item(db, theirs, ItemRole.assistant, [{"type": "text", "text": "not yours"}])
    db.commit()
    active = str(ctx.id)
    for payload in (
        {"contextId": active, "itemId": str(uuid.uuid4()), "role": "assistant"},  # no such item
        {"contextId": active, "itemId": str(foreign.id), "role": "assistant"},  # another user's item, spoofed chat
        {"contextId": active, "itemId": "not-an-id"},
        {"contextId": str(theirs.id), "itemId": str(foreign.id), "role": "assistant"},
    ):
        asyncio.run(_sub(thread, ChatReactionsState).on_event({"id": 1, "type": T.CHAT_ITEM_UPDATED, "payload": payload, "createdAt": ""}))
    for event in (
        {"type": T.CHAT_QUERY_STATE, "payload": {"contextId": str(other.id), "state": "codegen",
                                                  "assistantItemId": str(sub.assistant_item.id)}},
        {"type": T.CHAT_QUERY_STATE, "payload": {"contextId": active, "state": "codegen"}},  # names no item
        {"type": T.NOTIFICATION_CREATED, "payload": {"contextId": active, "itemId": str(foreign.id)}},
        {"type": T.CHAT_ITEM_UPDATED, "payload": "not a dict"},
        "not an event",
    ):
        asyncio.run(_sub(thread, ChatReactionsState).on_event(event))
    assert (list(thread.items), dict(thread.progress), thread.total) == snapshot
    assert ThreadState.get_full_name() not in root.get_delta()  # nothing at all to send for the thread

    # Off the chat pages the same tab ignores even its open chat's events (the chat page reloads on load) ...
    root.router = _router_at("/settings")
    mine = chats.add_item(db, chats.get_context(db, user.id, ctx.id), ItemRole.assistant, [{"type": "text", "text": "late"}])
    db.commit()
    event = {"id": 1, "type": T.CHAT_ITEM_UPDATED, "createdAt": "",
             "payload": {"contextId": active, "itemId": str(mine.id), "role": "assistant"}}
    asyncio.run(_sub(thread, ChatReactionsState).on_event(event))
    assert (list(thread.items), thread.total) == (snapshot[0], snapshot[2])
    # ... and back on the chat page it takes it: the cases above were refused for what they named, not by accident.
    root.router = _router_at(f"/chat/{ctx.id}")
    asyncio.run(_sub(thread, ChatReactionsState).on_event(event))
    assert thread.items[-1].id == str(mine.id) and thread.items[-1].text == "late"


class _Background:
    """What Reflex hands a background handler as `self`: the state, made writable inside `async with self`."""

    def __init__(self, state) -> None:
        object.__setattr__(self, "_state", state)

    def __getattr__(self, name):
        return getattr(self._state, name)

    def __setattr__(self, name, value) -> None:
        setattr(self._state, name, value)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> bool:
        return False


def test_watch_query_relays_only_the_owners_live_text(db: Session, chat, make_user, monkeypatch) -> None:
    """A client can send `watch_query` with any query id. The owner's tab gets its query's streamed text; a tab
    signed in as someone else gets nothing and leaves no subscription behind (before, it subscribed first and
    checked later, so another user's text streamed into it)."""
    from chat3d.events.bus import get_bus
    from chat3d.pipeline import live

    owner, ctx, thread, _ = chat
    sub = queries.submit_query(db, owner.id, ctx.id, "a 20 mm cube")
    qid, answer_id = str(sub.query.id), str(sub.assistant_item.id)
    db.commit()
    asyncio.run(load_items(thread, owner.id, str(ctx.id)))
    watch = ThreadState.watch_query.fn

    async def watch_while_streaming(as_user) -> dict:
        monkeypatch.setattr(AuthState, "_current_user", lambda self: as_user)
        thread.streaming, thread._watching = {}, []
        task = asyncio.create_task(watch(_Background(thread), qid, answer_id))
        for _ in range(50):  # until the watcher is listening (or has given up)
            if task.done() or get_bus()._text_watchers.get(qid):
                break
            await asyncio.sleep(0.02)
        live.publish_text(qid, "SECRET cube text")
        await asyncio.sleep(0.3)
        seen = dict(thread.streaming)
        subscribed = bool(get_bus()._text_watchers.get(qid))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return {"seen": seen, "subscribed": subscribed}

    mine = asyncio.run(watch_while_streaming(owner))
    assert mine == {"seen": {answer_id: "SECRET cube text"}, "subscribed": True}
    stranger = make_user("stranger@example.com")
    theirs = asyncio.run(watch_while_streaming(stranger))
    assert theirs == {"seen": {}, "subscribed": False}

"""Ratings (RatingsState, kept in step by ThreadState): thumbs toggle and persist, one answer's rating never touches
another, and a rating sends only RatingsState's small `ratings` dict (not the item list, not the unchanged
signed-in user). Also: Regenerate is offered only on answers with a request to run again.

The handlers run on a real Reflex state tree (no browser) against a clean PostgreSQL database, with the signed-in
user patched in (AuthState reads it from the cookie), like tests/state/test_notifications.py.
"""

from __future__ import annotations

import asyncio

import pytest
import reflex as rx
from sqlmodel import Session

from chat3d.db.models import ChatItem, ItemRole
from chat3d.domain import chats
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.auth import AuthState
from chat3d.state.chat import RatingsState, ThreadState, add_chip, load_items, reload_item


def run(handler):
    """Run a handler to the end (rate yields once: the optimistic delta, then the write)."""
    async def drain():
        return [out async for out in handler]
    return asyncio.run(drain())


@pytest.fixture
def chat(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    """A signed-in user's chat with two answers; `tree()` builds a fresh state tree (a new tab) on it."""
    user = make_user("rater@example.com")
    who = {"user": user}
    monkeypatch.setattr(AuthState, "_current_user", lambda self: who["user"])
    ctx = chats.create_context(db, user.id, name="Rated")
    answers = []
    for i in range(2):
        chats.add_item(db, ctx, ItemRole.user, [{"type": "text", "text": f"prompt {i}"}])
        answers.append(str(chats.add_item(db, ctx, ItemRole.assistant, [{"type": "text", "text": f"answer {i}"}]).id))
    db.commit()

    def tree() -> ThreadState:
        root = rx.State(_reflex_internal_init=True)
        thread = root.get_substate(ThreadState.get_full_name().split(".")[1:])
        asyncio.run(load_items(thread, user.id, str(ctx.id)))
        thread.parent_state.get_substate(ActiveChatState.get_full_name().split(".")[1:]).context_id = str(ctx.id)
        asyncio.run(signed_in_user_id(thread))  # signed in, as after the page load
        root._clean()
        return thread

    tree.who = who
    return user, answers, tree


def open_chat_id(thread: ThreadState) -> str:
    """The tab's open chat (ActiveChatState, a sibling of ThreadState)."""
    return thread.parent_state.get_substate(ActiveChatState.get_full_name().split(".")[1:]).context_id


def R(thread: ThreadState) -> RatingsState:
    """The tab's RatingsState (a sibling of ThreadState in the same tree)."""
    return thread.parent_state.get_substate(RatingsState.get_full_name().split(".")[1:])


def _stored(db: Session, item_id: str) -> int:
    db.expire_all()
    return db.get(ChatItem, item_id).rating


def test_thumbs_toggle_and_persist(db: Session, chat) -> None:
    _user, (first, _second), tree = chat
    thread = tree()
    assert R(thread).ratings == {}

    run(R(thread).rate(first, 1))
    assert R(thread).ratings == {first: 1} and _stored(db, first) == 1
    run(R(thread).rate(first, 1))  # the same thumb again clears it
    assert R(thread).ratings == {} and _stored(db, first) == 0
    run(R(thread).rate(first, -1))
    run(R(thread).rate(first, 1))  # the other thumb replaces it
    assert R(thread).ratings == {first: 1} and _stored(db, first) == 1


def test_rating_one_answer_leaves_the_other_alone(db: Session, chat) -> None:
    _user, (first, second), tree = chat
    thread = tree()
    run(R(thread).rate(second, -1))
    run(R(thread).rate(first, 1))
    assert R(thread).ratings == {first: 1, second: -1}
    run(R(thread).rate(first, 1))
    assert R(thread).ratings == {second: -1}
    assert (_stored(db, first), _stored(db, second)) == (0, -1)


def test_a_reloaded_chat_shows_the_stored_ratings(db: Session, chat) -> None:
    _user, (first, second), tree = chat
    run(R(tree()).rate(second, 1))
    reopened = tree()  # a new tab / a reload reads them back from the database
    assert R(reopened).ratings == {second: 1}
    assert {i.id: i.rating for i in reopened.items if i.role == "assistant"} == {first: 0, second: 1}


def test_a_rating_sends_only_the_ratings_dict(db: Session, chat) -> None:
    _user, (first, _second), tree = chat
    thread = tree()
    items_before = thread.items
    run(R(thread).rate(first, 1))
    delta = thread.parent_state.get_delta()
    assert list(delta) == [RatingsState.get_full_name()], delta  # AuthState's unchanged user is not re-sent
    assert list(delta[RatingsState.get_full_name()]) == ["ratings" + "_rx_state_"]
    assert thread.items is items_before or thread.items == items_before


def test_a_rating_on_a_foreign_item_is_refused(db: Session, chat, make_user) -> None:
    _user, (first, _second), tree = chat
    thread = tree()
    R(thread)._context_id = str(chats.create_context(db, make_user("other@example.com").id, name="theirs").id)
    db.commit()
    outs = run(R(thread).rate(first, 1))  # the thumb flips at once, then the write is refused: undone, with a toast
    assert R(thread).ratings == {} and _stored(db, first) == 0
    assert any(o is not None for o in outs)


def test_a_rating_flips_before_the_write_and_ignores_unknown_items(db: Session, chat) -> None:
    _user, (first, _second), tree = chat
    thread = tree()
    handler = R(thread).rate(first, 1)
    asyncio.run(handler.__anext__())  # the first yield: what the browser gets before the database write
    assert R(thread).ratings == {first: 1} and _stored(db, first) == 0
    asyncio.run(handler.aclose())

    thread = tree()
    prompt = next(i.id for i in thread.items if i.role == "user")
    for item_id, value in ((prompt, 1), ("not-an-item", 1), (first, 5)):
        run(R(thread).rate(item_id, value))
        assert R(thread).ratings == {}


def test_a_reloaded_item_brings_its_stored_rating(db: Session, chat) -> None:
    user, (first, _second), tree = chat
    thread = tree()
    chats.rate_item(db, user.id, open_chat_id(thread), first, -1)  # e.g. rated through the API in another tab
    db.commit()
    asyncio.run(reload_item(thread, user.id, first))
    assert R(thread).ratings == {first: -1}


def test_a_rating_after_signing_out_is_undone(db: Session, chat) -> None:
    _user, (first, _second), tree = chat
    thread = tree()
    tree.who["user"] = None  # the session ended in another tab
    run(R(thread).rate(first, 1))
    assert R(thread).ratings == {} and _stored(db, first) == 0


def test_live_chips_and_streamed_text_leave_the_item_list_alone(db: Session, chat) -> None:
    user, (first, _second), tree = chat
    thread = tree()
    pending = chats.add_item(db, chats.get_context(db, user.id, open_chat_id(thread)), ItemRole.assistant,
                             [{"type": "pending", "queryId": "00000000-0000-0000-0000-000000000001"}])
    db.commit()
    asyncio.run(reload_item(thread, user.id, str(pending.id)))  # a new answer starts: appended once
    thread.parent_state._clean()
    items_before = [i.id for i in thread.items]

    add_chip(thread, str(pending.id), "Writing code")
    thread._set_stream_text(str(pending.id), "Here is")
    thread._set_stream_text(first, "not pending: ignored")
    delta = thread.parent_state.get_delta()[ThreadState.get_full_name()]
    assert sorted(delta) == ["progress_rx_state_", "streaming_rx_state_"]
    assert thread.progress == {str(pending.id): ["Writing code"]}
    assert thread.streaming == {str(pending.id): "Here is"}
    assert [i.id for i in thread.items] == items_before
    thread.parent_state._clean()

    add_chip(thread, str(pending.id), "Writing code")  # the same step again: nothing to send
    assert thread.parent_state.get_delta() == {}

    db.get(ChatItem, pending.id).segments = [{"type": "text", "text": "Here is your part."}]
    db.commit()
    asyncio.run(reload_item(thread, user.id, str(pending.id)))  # finished: the stored text replaces the streamed one
    assert thread.streaming == {}
    view = next(i for i in thread.items if i.id == str(pending.id))
    assert view.text == "Here is your part." and view.progress == ["Writing code"]


def test_regenerate_is_offered_only_on_answers_with_a_request(db: Session, chat) -> None:
    """An imported part (or an edited version) has no request behind it: `queries.regenerate` could only answer
    "This answer has no request to run again.", so its bubble offers no Regenerate (`can_regenerate`)."""
    from chat3d.db.models import Query

    user, (first, second), tree = chat
    ctx_id = open_chat_id(tree())
    db.add(Query(owner_id=user.id, context_id=ctx_id, assistant_item_id=first, prompt="prompt 0", state="completed"))
    imported = chats.add_item(db, chats.get_context(db, user.id, ctx_id), ItemRole.assistant, [
        {"type": "text", "text": "Imported part.step (STEP): 10.0 × 10.0 × 10.0 mm."},
        {"type": "model", "files": [{"id": "00000000-0000-0000-0000-0000000000aa", "format": "glb",
                                     "filename": "part.glb", "size": 1}], "metrics": {}, "origin": "imported"},
    ])
    db.commit()
    thread = tree()
    offered = {i.id: i.can_regenerate for i in thread.items if i.role == "assistant"}
    assert offered == {first: True, second: False, str(imported.id): False}
    assert not any(i.can_regenerate for i in thread.items if i.role == "user")

    asyncio.run(reload_item(thread, user.id, str(imported.id)))  # a live reload keeps it hidden
    asyncio.run(reload_item(thread, user.id, first))
    assert {i.id: i.can_regenerate for i in thread.items if i.id in (first, str(imported.id))} == {
        first: True, str(imported.id): False}
    assert str(imported.id) in R(thread)._answers  # but it can still be rated

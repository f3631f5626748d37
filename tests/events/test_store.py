"""The event table as the source of truth: per-recipient ordering under concurrency, badge counts, isolation."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.db.models import Role, UserStatus
from chat3d.domain.errors import NotFound
from chat3d.events import store
from chat3d.events import types as T


def _new_session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


def _read_ids(user_id: uuid.UUID, after: int) -> list[int]:
    with _new_session() as s:
        return [e["id"] for e in store.events_after(s, user_id, after, 1000)]


# --- ordering ---------------------------------------------------------------------------------------------


def _hold_then_commit(user_id, inserted: threading.Event, release: threading.Event, out: dict, key: str) -> None:
    with _new_session() as s:
        row = store.record_event(s, user_id, T.CHAT_ITEM_UPDATED, {"who": key}, publish=False)
        out[key] = row.id
        inserted.set()
        release.wait(10)
        s.commit()


def test_a_later_id_cannot_commit_before_an_earlier_one_for_the_same_recipient(user_factory) -> None:
    user = user_factory()
    out: dict[str, int] = {}
    a_inserted, a_release = threading.Event(), threading.Event()
    b_inserted, b_release = threading.Event(), threading.Event()
    b_release.set()  # B would commit at once if it could insert
    ta = threading.Thread(target=_hold_then_commit, args=(user.id, a_inserted, a_release, out, "a"))
    ta.start()
    assert a_inserted.wait(10)
    tb = threading.Thread(target=_hold_then_commit, args=(user.id, b_inserted, b_release, out, "b"))
    tb.start()
    # B waits on the recipient's advisory lock while A's transaction is open: it has not even got an id.
    assert not b_inserted.wait(0.5)
    assert _read_ids(user.id, 0) == []
    a_release.set()
    ta.join(10)
    tb.join(10)
    assert out["a"] < out["b"]
    assert _read_ids(user.id, 0) == [out["a"], out["b"]]


def test_without_the_lock_a_reader_would_skip_a_late_commit(user_factory, monkeypatch) -> None:
    """The hazard the lock exists for, shown by switching the lock off."""
    monkeypatch.setattr(store, "_lock_recipients", lambda *a, **k: None)
    user = user_factory()
    out: dict[str, int] = {}
    a_inserted, a_release = threading.Event(), threading.Event()
    b_inserted, b_release = threading.Event(), threading.Event()
    b_release.set()
    ta = threading.Thread(target=_hold_then_commit, args=(user.id, a_inserted, a_release, out, "a"))
    ta.start()
    assert a_inserted.wait(10)
    tb = threading.Thread(target=_hold_then_commit, args=(user.id, b_inserted, b_release, out, "b"))
    tb.start()
    tb.join(10)
    cursor = max(_read_ids(user.id, 0))  # the reader sees B and advances past A's id
    a_release.set()
    ta.join(10)
    assert out["a"] < out["b"] == cursor
    assert _read_ids(user.id, cursor) == []  # A committed late with a lower id: skipped


def test_different_recipients_do_not_wait_for_each_other(user_factory) -> None:
    u1, u2 = user_factory(), user_factory()
    out: dict[str, int] = {}
    held, release = threading.Event(), threading.Event()
    t = threading.Thread(target=_hold_then_commit, args=(u1.id, held, release, out, "u1"))
    t.start()
    assert held.wait(10)
    started = time.monotonic()
    with _new_session() as s:
        store.record_event(s, u2.id, T.CHAT_ITEM_UPDATED, {}, publish=False)
        s.commit()
    assert time.monotonic() - started < 1.0
    release.set()
    t.join(10)


def test_concurrent_publishers_and_a_polling_reader_never_lose_an_event(user_factory) -> None:
    users = [user_factory(), user_factory()]
    writers, per_writer = 8, 15
    committed: dict[uuid.UUID, list[int]] = {u.id: [] for u in users}
    lock = threading.Lock()
    stop = threading.Event()
    seen: dict[uuid.UUID, list[int]] = {u.id: [] for u in users}

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(per_writer):
            user_id = rnd.choice(users).id
            with _new_session() as s:
                row = store.record_event(s, user_id, T.CHAT_QUERY_STATE, {"w": seed}, publish=False)
                time.sleep(rnd.random() * 0.01)  # hold the transaction open a random while
                s.commit()
            with lock:
                committed[user_id].append(row.id)

    def reader() -> None:
        cursors = {u.id: 0 for u in users}
        while True:
            done = stop.is_set()
            for u in users:
                ids = _read_ids(u.id, cursors[u.id])
                seen[u.id].extend(ids)
                if ids:
                    cursors[u.id] = ids[-1]
            if done:
                return
            time.sleep(0.001)

    r = threading.Thread(target=reader)
    r.start()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    r.join(30)
    assert sum(len(v) for v in committed.values()) == writers * per_writer
    for u in users:
        assert seen[u.id] == sorted(committed[u.id])  # every id, once, in order


# --- badge, read state, isolation ------------------------------------------------------------------------


def test_unread_count_counts_only_notification_created(session: Session, user_factory) -> None:
    user = user_factory()
    for event_type in (T.CHAT_ITEM_UPDATED, T.CHAT_QUERY_STATE, T.ADMIN_SETTINGS_UPDATED, T.ACCOUNT_STATUS_CHANGED):
        store.record_event(session, user.id, event_type, {"x": 1})
    store.record_event(session, user.id, T.NOTIFICATION_CREATED, {"title": "one"})
    store.record_event(session, user.id, T.NOTIFICATION_CREATED, {"title": "two"})
    session.commit()
    assert store.unread_count(session, user.id) == 2
    items, total = store.list_notifications(session, user.id)
    assert total == 2 and [i["payload"]["title"] for i in items] == ["two", "one"]  # newest first
    assert all(i["type"] == T.NOTIFICATION_CREATED and i["readAt"] is None for i in items)


def test_mark_read_and_mark_all_read(session: Session, user_factory) -> None:
    user = user_factory()
    rows = [store.record_event(session, user.id, T.NOTIFICATION_CREATED, {"n": i}) for i in range(3)]
    session.commit()
    item = store.mark_read(session, user.id, rows[0].id)
    session.commit()
    assert item["readAt"] and item["readAt"].endswith("Z")
    again = store.mark_read(session, user.id, rows[0].id)  # idempotent, keeps the first read time
    assert again["readAt"] == item["readAt"]
    assert store.unread_count(session, user.id) == 2
    unread, total = store.list_notifications(session, user.id, unread_only=True)
    assert total == 2 and {i["id"] for i in unread} == {rows[1].id, rows[2].id}
    page, total = store.list_notifications(session, user.id, limit=1, offset=1)
    assert total == 3 and [i["id"] for i in page] == [rows[1].id]
    assert store.mark_all_read(session, user.id) == 2
    session.commit()
    assert store.unread_count(session, user.id) == 0


def test_foreign_unknown_and_non_notification_ids_are_not_found(session: Session, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    note = store.record_event(session, alice.id, T.NOTIFICATION_CREATED, {})
    chat = store.record_event(session, bob.id, T.CHAT_ITEM_UPDATED, {})
    session.commit()
    for user_id, event_id in ((bob.id, note.id), (alice.id, 10**12), (bob.id, chat.id)):
        with pytest.raises(NotFound):
            store.mark_read(session, user_id, event_id)
    assert store.unread_count(session, alice.id) == 1


def test_events_are_per_user(session: Session, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    a = store.record_event(session, alice.id, T.CHAT_ITEM_UPDATED, {"for": "alice"})
    store.record_event(session, bob.id, T.NOTIFICATION_CREATED, {"for": "bob"})
    session.commit()
    assert [e["id"] for e in store.events_after(session, alice.id, 0)] == [a.id]
    assert [e["payload"]["for"] for e in store.events_after(session, bob.id, 0)] == ["bob"]
    assert store.unread_count(session, alice.id) == 0
    assert store.list_notifications(session, alice.id) == ([], 0)
    assert store.mark_all_read(session, alice.id) == 0 and store.unread_count(session, bob.id) == 1
    assert store.latest_event_id(session, alice.id) == a.id
    assert store.latest_event_id(session, uuid.uuid4()) == 0
    assert store.count_after(session, bob.id, 0) == 1


def test_envelope_shape(session: Session, user_factory) -> None:
    user = user_factory()
    row = store.record_event(session, user.id, T.CHAT_QUERY_STATE, {"state": "codegen", "queryId": "q1"})
    session.commit()
    (env,) = store.events_after(session, user.id, 0)
    assert set(env) == {"id", "type", "payload", "createdAt"}
    assert env["id"] == row.id and env["type"] == T.CHAT_QUERY_STATE and env["payload"]["state"] == "codegen"
    assert env["createdAt"].endswith("Z") and "T" in env["createdAt"]


def test_record_for_admins_writes_one_row_per_active_admin(session: Session, user_factory) -> None:
    admins = [user_factory(role=Role.admin.value) for _ in range(2)]
    inactive = user_factory(role=Role.admin.value, status=UserStatus.deactivated.value)
    plain = user_factory()
    rows = store.record_for_admins(session, T.ADMIN_SETTINGS_UPDATED, {"waitlistEnabled": True})
    session.commit()
    assert sorted(r.user_id for r in rows) == sorted(a.id for a in admins)
    assert store.events_after(session, inactive.id, 0) == [] and store.events_after(session, plain.id, 0) == []


def test_unknown_event_type_is_refused(session: Session, user_factory) -> None:
    user = user_factory()
    with pytest.raises(ValueError):
        store.record_event(session, user.id, "chat.typo", {})


def test_lock_key_is_a_stable_signed_64_bit_int() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    key = store.advisory_key(u)
    assert key == store.advisory_key(str(u)) and -(2**63) <= key < 2**63
    assert key != store.advisory_key(uuid.uuid4())


def test_events_after_many_answers_each_request_like_events_after(session: Session, user_factory) -> None:
    alice, bob = user_factory(), user_factory()
    a = [store.record_event(session, alice.id, T.CHAT_ITEM_UPDATED, {"i": i}).id for i in range(4)]
    b = [store.record_event(session, bob.id, T.NOTIFICATION_CREATED, {"i": i}).id for i in range(2)]
    session.commit()
    requests = [(alice.id, a[1]), (bob.id, 0), (alice.id, 0), (uuid.uuid4(), 0), (bob.id, b[-1])]
    with get_engine().connect() as conn:
        many = store.events_after_many(conn, requests, limit=3)
    assert [[e["id"] for e in r] for r in many] == [a[2:], b, a[:3], [], []]
    assert many == [store.events_after(session, u, c, 3) for u, c in requests]
    assert store.events_after_many(session, [], 3) == []

"""Versions: listing, current version, restore as the base of the next prompt, fork, compare."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatContext, ChatItem, ItemRole, StoredFile, User
from chat3d.domain import chats, files, versions
from chat3d.domain.errors import InvalidInput, NotFound
from chat3d.pipeline import queries
from chat3d.pipeline.runner import _load


def _code(length: float) -> str:
    return f"from build123d import *\nlength = {length}  # mm, length [1..500]\nresult = Box(length, 10, 5)\n"


def _version(s, ctx, length: float, **extra) -> ChatItem:
    item = chats.add_item(s, ctx, ItemRole.assistant, [], regenerated_from_id=extra.pop("regenerated_from_id", None))
    refs = []
    for fmt in ("glb", "step", "png"):
        row = files.store_bytes(s, ctx.owner_id, f"{fmt}-{length}".encode(), fmt=fmt, filename=f"model.{fmt}",
                                context_id=ctx.id, item_id=item.id)
        refs.append({"id": str(row.id), "format": fmt, "filename": row.filename, "size": row.size})
    item.segments = [{"type": "text", "text": f"A {length} mm bar."},
                     {"type": "model", "files": refs, "code": _code(length), "brief": "a bar",
                      "metrics": {"bbox_size_mm": [length, 10, 5], "volume_mm3": length * 50}, **extra}]
    s.add(item)
    s.flush()
    return item


@pytest.fixture
def chat(app_env):
    """A chat: prompt 1 -> v1 (40 mm), prompt 2 -> v2 (60 mm), prompt 3 -> v3 (80 mm)."""
    with session_scope() as s:
        user = User(email="v@example.com")
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id, name="Bars")
        ids = []
        for n, length in enumerate((40.0, 60.0, 80.0), start=1):
            chats.add_item(s, ctx, ItemRole.user, [{"type": "text", "text": f"prompt {n}"}])
            ids.append(_version(s, ctx, length).id)
        return user.id, ctx.id, ids


def test_list_and_current(chat) -> None:
    uid, cid, (v1, v2, v3) = chat
    with session_scope() as s:
        listed = versions.list_versions(s, uid, cid)
        assert [v.number for v in listed] == [1, 2, 3]
        assert [v.current for v in listed] == [False, False, True]
        assert listed[0].thumbnail_file_id and listed[0].parameters == {"length": 40.0}
        assert listed[0].origin == "prompt"
        with pytest.raises(NotFound):
            versions.list_versions(s, uuid.uuid4(), cid)


def test_restore_sets_the_base_of_the_next_prompt(chat) -> None:
    uid, cid, (v1, v2, v3) = chat
    with session_scope() as s:
        versions.restore(s, uid, cid, v1)
    with session_scope() as s:
        assert [v.current for v in versions.list_versions(s, uid, cid)] == [True, False, False]
        sub = queries.submit_query(s, uid, cid, "make it wider")
        qid = sub.query.id
    with session_scope() as s:
        rc = _load(s, qid, "test")
        assert rc.previous_code == _code(40.0)
    # A newer version takes over again.
    with session_scope() as s:
        ctx = s.get(ChatContext, cid)
        v4 = _version(s, ctx, 100.0, regenerated_from_id=v1).id
    with session_scope() as s:
        assert versions.current_version(s, s.get(ChatContext, cid)).id == v4
        assert [v.origin for v in versions.list_versions(s, uid, cid)][-1] == "regenerated"


def test_restore_refuses_foreign_and_non_versions(chat) -> None:
    uid, cid, ids = chat
    with session_scope() as s:
        user_item = s.exec(select(ChatItem).where(ChatItem.context_id == cid, ChatItem.role == "user")).first()
        with pytest.raises(InvalidInput):
            versions.restore(s, uid, cid, user_item.id)
        with pytest.raises(NotFound):
            versions.restore(s, uuid.uuid4(), cid, ids[0])
        other = chats.create_context(s, uid)
        with pytest.raises(NotFound):
            versions.restore(s, uid, other.id, ids[0])


def test_fork_copies_history_up_to_the_version_and_nothing_after(chat) -> None:
    uid, cid, (v1, v2, v3) = chat
    with session_scope() as s:
        new = versions.fork(s, uid, cid, v2)
        new_id = new.id
        assert new.name == "Bars (fork)"
    with session_scope() as s:
        copied = chats.list_items(s, uid, new_id).items
        assert [chats.text_of(i) for i in copied] == ["prompt 1", "A 40.0 mm bar.", "prompt 2", "A 60.0 mm bar."]
        assert [i.role for i in copied] == ["user", "assistant", "user", "assistant"]
        original = chats.list_items(s, uid, cid).items
        assert len(original) == 6  # the source chat is untouched
        # Files: new rows, same bytes on disk (not duplicated).
        src_paths = {f.storage_path for f in s.exec(select(StoredFile).where(StoredFile.context_id == cid)).all()}
        fork_rows = s.exec(select(StoredFile).where(StoredFile.context_id == new_id)).all()
        assert len(fork_rows) == 6 and {f.storage_path for f in fork_rows} <= src_paths
        model = chats.model_segment(copied[-1])
        assert {f["id"] for f in model["files"]} <= {str(f.id) for f in fork_rows}
        assert versions.current_version(s, s.get(ChatContext, new_id)).id == copied[-1].id
        # The next prompt in the fork builds on the forked version.
        qid = queries.submit_query(s, uid, new_id, "longer").query.id
    with session_scope() as s:
        assert _load(s, qid, "test").previous_code == _code(60.0)

    # Deleting the original chat keeps the bytes the fork still references.
    with session_scope() as s:
        orphans = chats.delete_context(s, uid, cid)
    files.remove_stored_paths(orphans)
    with session_scope() as s:
        for row in s.exec(select(StoredFile).where(StoredFile.context_id == new_id)).all():
            assert files.absolute_path(row).read_bytes()
        assert not any((files.storage().root / p).exists() for p in orphans)
        assert len(orphans) == 3  # only v3's files were the original's alone


def test_compare(chat) -> None:
    uid, cid, (v1, v2, v3) = chat
    with session_scope() as s:
        diff = versions.compare(s, uid, str(v1), str(v3))
    bbox = next(r for r in diff["metrics"] if r["metric"] == "bbox_size_mm")
    assert bbox["delta"] == [40.0, 0.0, 0.0]
    assert diff["parameters"] == [{"name": "length", "a": 40.0, "b": 80.0}]


def _thumb_of(s, item_id) -> uuid.UUID:
    model = chats.model_segment(s.get(ChatItem, item_id))
    return uuid.UUID(next(f["id"] for f in model["files"] if f["format"] == "png"))


def _current_thumbs(s, uid) -> dict:
    return chats.list_contexts(s, uid, thumbnails=True).thumbnails


def test_chat_list_thumbnail_follows_the_current_version(chat) -> None:
    """The chat list shows the current version's PNG: the newest, a restored one until a newer one is made."""
    uid, cid, (v1, v2, v3) = chat
    with session_scope() as s:
        empty = chats.create_context(s, uid, name="No model yet").id
        chats.add_item(s, s.get(ChatContext, empty), ItemRole.user, [{"type": "text", "text": "hello"}])
        chats.add_item(s, s.get(ChatContext, empty), ItemRole.assistant, [{"type": "text", "text": "What size?"}])
    with session_scope() as s:
        thumbs = _current_thumbs(s, uid)
        assert thumbs == {cid: _thumb_of(s, v3), empty: None}
        assert chats.list_contexts(s, uid).thumbnails == {}  # only when asked for
    with session_scope() as s:
        versions.restore(s, uid, cid, v1)
    with session_scope() as s:
        assert _current_thumbs(s, uid)[cid] == _thumb_of(s, v1)
        v4 = _version(s, s.get(ChatContext, cid), 100.0, regenerated_from_id=v1).id
    with session_scope() as s:
        assert _current_thumbs(s, uid)[cid] == _thumb_of(s, v4)
        # It agrees with the version list's "Current" flag.
        current = next(v for v in versions.list_versions(s, uid, cid) if v.current)
        assert str(_current_thumbs(s, uid)[cid]) == current.thumbnail_file_id


def test_chat_list_thumbnails_in_one_query_and_only_the_owners(chat) -> None:
    from sqlalchemy import event

    uid, cid, _ = chat
    with session_scope() as s:
        ids = [cid]
        for n in range(4):
            ctx = chats.create_context(s, uid, name=f"Chat {n}")
            _version(s, ctx, 10.0 + n)
            ids.append(ctx.id)
        # Another user's chat never shows up, and a version from before PNG thumbnails (only the SVG the
        # program wrote) shows the placeholder: the SVG is never used.
        other = User(email="other@example.com")
        s.add(other)
        s.flush()
        foreign = chats.create_context(s, other.id)
        _version(s, foreign, 5.0)
        no_svg = chats.create_context(s, uid, name="Old render")
        item = _version(s, no_svg, 7.0)
        for f in s.exec(select(StoredFile).where(StoredFile.item_id == item.id, StoredFile.format == "png")).all():
            s.delete(f)
        svg = files.store_bytes(s, uid, b"<svg xmlns='http://www.w3.org/2000/svg'/>", fmt="svg", filename="model.svg",
                                context_id=no_svg.id, item_id=item.id)
        model = chats.model_segment(item)
        kept = [f for f in model["files"] if f["format"] != "png"]
        kept.append({"id": str(svg.id), "format": "svg", "filename": svg.filename, "size": svg.size})
        item.segments = [seg if seg is not model else {**model, "files": kept} for seg in item.segments]
        s.add(item)
    with session_scope() as s:
        contexts = chats.list_contexts(s, uid).items
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(s.get_bind(), "before_cursor_execute", listener)
        try:
            thumbs = chats.current_thumbnails(s, contexts)
        finally:
            event.remove(s.get_bind(), "before_cursor_execute", listener)
        assert len(statements) == 1, statements
        assert set(thumbs) == set(ids) | {no_svg.id}
        assert thumbs[no_svg.id] is None and all(thumbs[i] is not None for i in ids)
        assert len({thumbs[i] for i in ids}) == len(ids)


def test_chat_list_thumbnails_on_sqlite(app_env, tmp_path, monkeypatch) -> None:
    """The embedded default runs the same window-function query."""
    from chat3d.db.engine import engine_for
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.settings import reset_settings_cache

    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    upgrade_to_head(url)
    try:
        with session_scope() as s:
            assert s.get_bind().dialect.name == "sqlite"
            user = User(email="lite@example.com")
            s.add(user)
            s.flush()
            ctx = chats.create_context(s, user.id, name="Lite")
            v1, v2 = _version(s, ctx, 10.0).id, _version(s, ctx, 20.0).id
            empty = chats.create_context(s, user.id).id
            uid, cid = user.id, ctx.id
        with session_scope() as s:
            assert _current_thumbs(s, uid) == {cid: _thumb_of(s, v2), empty: None}
            versions.restore(s, uid, cid, v1)
        with session_scope() as s:
            assert _current_thumbs(s, uid)[cid] == _thumb_of(s, v1)
    finally:
        engine_for(url).dispose()

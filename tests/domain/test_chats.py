"""Chat rules: ownership, naming, ordering, ratings, deletion with file clean-up."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest

from chat3d.db.models import FileKind, ItemRole, User
from chat3d.domain import chats, files
from chat3d.domain.errors import InvalidInput, NotFound


@pytest.fixture
def users(session):
    a, b = User(email="a@example.com"), User(email="b@example.com")
    session.add_all([a, b])
    session.commit()
    return a, b


def test_name_from_prompt_is_short_and_readable() -> None:
    assert chats.name_from_prompt("a 80 x 50 x 5 mm plate with four 4 mm holes. Make it sturdy.") == \
        "A 80 x 50 x 5 mm plate with four 4 mm holes"
    long = chats.name_from_prompt("design " + "very " * 30 + "long bracket")
    assert len(long) <= 49 and long.endswith("…")
    assert chats.name_from_prompt("   ") == "New chat"


def test_foreign_and_malformed_ids_are_not_found(session, users) -> None:
    a, b = users
    ctx = chats.create_context(session, a.id, name="Mine")
    session.commit()
    with pytest.raises(NotFound):
        chats.get_context(session, b.id, ctx.id)
    with pytest.raises(NotFound):
        chats.get_context(session, a.id, "not-a-uuid")
    with pytest.raises(NotFound):
        chats.update_context(session, b.id, ctx.id, name="stolen")
    assert chats.get_context(session, a.id, str(ctx.id)).name == "Mine"


def test_list_orders_by_activity_and_searches(session, users) -> None:
    a, b = users
    first = chats.create_context(session, a.id, name="Gear 20 teeth")
    second = chats.create_context(session, a.id, name="Plate")
    chats.create_context(session, b.id, name="Gear of b")
    session.commit()
    chats.add_item(session, first, ItemRole.user, [{"type": "text", "text": "hi"}])
    session.commit()
    page = chats.list_contexts(session, a.id)
    assert [c.id for c in page.items] == [first.id, second.id] and page.total == 2
    assert [c.name for c in chats.list_contexts(session, a.id, search="GEAR").items] == ["Gear 20 teeth"]
    assert chats.list_contexts(session, a.id, search="100%_").total == 0


def test_rename_validates(session, users) -> None:
    a, _ = users
    ctx = chats.create_context(session, a.id)
    with pytest.raises(InvalidInput):
        chats.update_context(session, a.id, ctx.id, name="   ")
    with pytest.raises(InvalidInput):
        chats.update_context(session, a.id, ctx.id, units="cm")
    assert chats.update_context(session, a.id, ctx.id, name="  Bracket  v2 ").name == "Bracket v2"


def test_rating_only_answers_and_only_valid_values(session, users) -> None:
    a, b = users
    ctx = chats.create_context(session, a.id)
    q = chats.add_item(session, ctx, ItemRole.user, [{"type": "text", "text": "plate"}])
    ans = chats.add_item(session, ctx, ItemRole.assistant, [{"type": "text", "text": "done"}])
    session.commit()
    assert chats.rate_item(session, a.id, ctx.id, ans.id, 1).rating == 1
    with pytest.raises(InvalidInput):
        chats.rate_item(session, a.id, ctx.id, ans.id, 2)
    with pytest.raises(InvalidInput):
        chats.rate_item(session, a.id, ctx.id, q.id, 1)
    with pytest.raises(NotFound):
        chats.rate_item(session, b.id, ctx.id, ans.id, -1)


def test_items_page_in_order(session, users) -> None:
    a, _ = users
    ctx = chats.create_context(session, a.id)
    for i in range(5):
        chats.add_item(session, ctx, ItemRole.user, [{"type": "text", "text": f"m{i}"}])
    session.commit()
    page = chats.list_items(session, a.id, ctx.id, limit=2, offset=3)
    assert page.total == 5 and [chats.text_of(i) for i in page.items] == ["m3", "m4"]
    assert [chats.text_of(i) for i in chats.history(session, ctx, limit=2)] == ["m3", "m4"]


def test_delete_removes_items_and_unshared_files(session, users, app_env) -> None:
    a, _ = users
    ctx = chats.create_context(session, a.id)
    other = chats.create_context(session, a.id)
    item = chats.add_item(session, ctx, ItemRole.assistant, [])
    f1 = files.store_bytes(session, a.id, b"solid x", fmt="stl", filename="model.stl", context_id=ctx.id, item_id=item.id)
    shared = files.store_bytes(session, a.id, b"step", fmt="step", filename="model.step", context_id=ctx.id)
    # The same stored file referenced from another chat (e.g. a fork) must survive.
    session.add(type(shared)(owner_id=a.id, context_id=other.id, kind=FileKind.model.value, format="step",
                             filename="model.step", content_type="model/step", size=4, sha256=shared.sha256,
                             storage_path=shared.storage_path))
    session.commit()
    p1, p_shared = files.absolute_path(f1), files.absolute_path(shared)
    orphans = chats.delete_context(session, a.id, ctx.id)
    session.commit()
    assert orphans == [f1.storage_path]
    assert files.remove_stored_paths(orphans) == 1
    assert not p1.exists() and p_shared.exists()
    with pytest.raises(NotFound):
        chats.get_context(session, a.id, ctx.id)


def test_files_are_owned_and_stay_inside_storage(session, users, app_env) -> None:
    a, b = users
    f = files.store_bytes(session, a.id, b"abc", fmt="py", filename="model.py")
    session.commit()
    assert files.absolute_path(f).read_bytes() == b"abc" and f.size == 3
    with pytest.raises(NotFound):
        files.get_file(session, b.id, f.id)
    with pytest.raises(NotFound):
        files.get_file(session, a.id, uuid.uuid4())
    f.storage_path = "../../etc/passwd"
    with pytest.raises(NotFound):
        files.absolute_path(f)


def test_expired_downloads_are_gone(session, users, app_env) -> None:
    from datetime import datetime, timedelta

    a, _ = users
    f = files.store_bytes(session, a.id, b"zip", fmt="zip", filename="export.zip", kind=FileKind.export)
    f.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    with pytest.raises(NotFound, match="expired"):
        files.get_file(session, a.id, f.id)


def test_a_chats_models_are_checked_where_they_are_stored(db, make_user) -> None:
    """The domain refuses a model that is unknown, not usable now or made for the other stage, whoever asks (REST,
    the composer); '' or None means the default. A fork keeps its source's models unchecked (one turned off since
    falls back at query time)."""
    from chat3d.domain import versions

    user = make_user("models@example.com")
    ctx = chats.create_context(db, user.id, conversation_model_id="offline-conversation",
                               codegen_model_id="offline-templates")
    with pytest.raises(InvalidInput, match="is not available now"):
        chats.create_context(db, user.id, codegen_model_id="no-such-model")
    with pytest.raises(InvalidInput, match="is not available now"):
        chats.update_context(db, user.id, ctx.id, conversation_model_id="gpt-4.1-mini")  # no OpenAI key here
    with pytest.raises(InvalidInput, match="cannot be used for conversation"):
        chats.update_context(db, user.id, ctx.id, conversation_model_id="offline-templates")
    assert (ctx.conversation_model_id, ctx.codegen_model_id) == ("offline-conversation", "offline-templates")
    assert chats.update_context(db, user.id, ctx.id, codegen_model_id="").codegen_model_id is None

    ctx.codegen_model_id = "gone-model"  # chosen when it was usable
    answer = chats.add_item(db, ctx, ItemRole.assistant, [])
    glb = files.store_bytes(db, user.id, b"glb", fmt="glb", filename="model.glb", context_id=ctx.id, item_id=answer.id)
    answer.segments = [{"type": "model", "code": "result = None", "metrics": {},
                        "files": [{"id": str(glb.id), "format": "glb", "filename": glb.filename, "size": glb.size}]}]
    db.add(answer)
    db.commit()
    fork = versions.fork(db, user.id, ctx.id, answer.id)
    assert (fork.conversation_model_id, fork.codegen_model_id) == ("offline-conversation", "gone-model")

"""An imported chat keeps its file: follow-up prompts (offline model) and edits render with it attached."""

from __future__ import annotations

import pytest
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatItem
from chat3d.domain import chats, versions
from chat3d.pipeline import edits, imports, queries
from chat3d.pipeline.runner import QueryRunner
from tests.support.cad_files import BLOCK_SIZE, BLOCK_VOLUME, block_files
from tests.support.scripted_llm import code_reply, tool_reply


def _current_model(ctx_id) -> tuple[ChatItem, dict]:
    with session_scope() as s:
        from chat3d.db.models import ChatContext

        ctx = s.get(ChatContext, ctx_id)
        item = versions.current_version(s, ctx)
        return item, versions.model_of(item)


async def _prompt(user_id, ctx_id, text: str) -> ChatItem:
    with session_scope() as s:
        sub = queries.submit_query(s, user_id, ctx_id, text)
        qid, aid = sub.query.id, sub.assistant_item.id
    await QueryRunner(worker_id="test").run(qid)
    with session_scope() as s:
        return s.get(ChatItem, aid)


async def test_offline_follow_ups_edit_around_the_imported_step(owner) -> None:
    user_id, _ = owner
    imported = await imports.import_file(user_id, block_files()["step"], "block.step")
    ctx_id = imported.context_id
    assert imported.metrics["bbox_size_mm"] == pytest.approx(list(BLOCK_SIZE), abs=0.01)

    hole = await _prompt(user_id, ctx_id, "add a 6 mm hole")
    model = chats.model_segment(hole)
    assert model is not None, hole.segments
    assert 'import_step("block.step")' in model["code"] and "hole_diameter = 6.0" in model["code"]
    assert model["inputs"][0]["name"] == "block.step"
    assert model["metrics"]["bbox_size_mm"] == pytest.approx(list(BLOCK_SIZE), abs=0.01)
    assert model["metrics"]["volume_mm3"] == pytest.approx(BLOCK_VOLUME - 3.14159 * 9 * 12, rel=0.01)

    taller = await _prompt(user_id, ctx_id, "make it 8 mm taller")
    model = chats.model_segment(taller)
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([60, 30, 20], abs=0.01)
    assert "hole_diameter = 6.0" in model["code"]  # built on the previous version, still importing the file

    # A change the templates cannot make is answered honestly, and nothing is lost.
    fillet = await _prompt(user_id, ctx_id, "add a fillet to all edges")
    assert chats.model_segment(fillet) is None
    assert "can't make that change" in chats.text_of(fillet)
    item, current = _current_model(ctx_id)
    assert item.id == taller.id

    # Turning a slider re-renders without a model call, with the imported file attached again.
    edit = await edits.render_parameters(user_id, str(taller.id), {"hole_diameter": 10})
    assert edit.ok, edit.error
    assert edit.metrics["volume_mm3"] < model["metrics"]["volume_mm3"]
    _, current = _current_model(ctx_id)
    assert current["inputs"] == model["inputs"]

    # A fork keeps its own reference to the imported file, so it renders on after the original is deleted.
    with session_scope() as s:
        fork = versions.fork(s, user_id, ctx_id, edit.item_id)
        fork_id = fork.id
        chats.delete_context(s, user_id, ctx_id)
    again = await _prompt(user_id, fork_id, "add a 3 mm hole")
    assert chats.model_segment(again) is not None, again.segments


async def test_model_gets_the_imported_program_and_the_file(owner, scripted) -> None:
    user_id, _ = owner
    imported = await imports.import_file(user_id, block_files()["stl"], "block.stl")
    scripted.conversation.append(tool_reply("Add a 20 mm cube on top of the imported part"))
    scripted.codegen.append(code_reply(
        'from build123d import *\nimported = Mesher().read("block.stl")[0]\n'
        "result = imported + Pos(0, 0, 16) * Box(20, 20, 20)\n"
    ))
    with session_scope() as s:
        from chat3d.db.models import ChatContext

        ctx = s.get(ChatContext, imported.context_id)
        ctx.conversation_model_id, ctx.codegen_model_id = "scripted-conversation", "scripted-codegen"
        s.add(ctx)
    item = await _prompt(user_id, imported.context_id, "put a 20 mm cube on top")
    model = chats.model_segment(item)
    assert model is not None, item.segments
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([60, 30, 32], abs=0.05)  # block −6..6, cube 6..26
    codegen = next(r for r in scripted.requests if r.model == "scripted-codegen")
    sent = codegen.messages[0].content
    assert 'Mesher().read("block.stl")' in sent and '"block.stl"' in sent and "imported" in sent
    # The conversation model saw the import as an earlier tool call with the part's size.
    conv = next(r for r in scripted.requests if r.model == "scripted-conversation")
    assert any("60.0 × 30.0 × 12.0" in (m.content or "") for m in conv.messages if m.role == "tool")
    with session_scope() as s:
        rows = s.exec(select(ChatItem).where(ChatItem.context_id == item.context_id)).all()
        assert len(rows) == 4


async def test_a_lost_imported_file_fails_clearly_and_keeps_the_version(owner) -> None:
    from chat3d.db.models import StoredFile
    from chat3d.domain import files

    user_id, _ = owner
    imported = await imports.import_file(user_id, block_files()["step"], "block.step")
    _, model = _current_model(imported.context_id)
    with session_scope() as s:
        files.absolute_path(s.get(StoredFile, __import__("uuid").UUID(model["inputs"][0]["id"]))).unlink()
    item = await _prompt(user_id, imported.context_id, "add a 6 mm hole")
    error = next((s for s in item.segments if s["type"] == "error"), None)
    assert error is not None, [s.get("code") for s in item.segments]
    assert "block.step" in error["message"] and error["kind"] == "import"
    current, _ = _current_model(imported.context_id)
    assert str(current.id) == imported.item_id

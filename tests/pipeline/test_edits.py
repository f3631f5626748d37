"""Edits without a model call: parameter changes and edited code re-render with the real render service."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatContext, ChatItem, StoredFile
from chat3d.domain import chats, files, versions
from chat3d.domain.errors import InvalidInput, NotFound
from chat3d.pipeline import edits, queries
from chat3d.pipeline.runner import QueryRunner
from chat3d.services.render_client import RenderClient
from tests.support.scripted_llm import code_reply, tool_reply

PLATE = """\
from build123d import *

length = 80.0  # mm, overall length (X) [10..500]
width = 50.0  # mm, overall width (Y) [10..500]
thickness = 5.0  # mm, thickness (Z) [1..50]

result = Box(length, width, thickness, align=(Align.CENTER, Align.CENTER, Align.MIN))
"""


async def _first_version(owner, scripted) -> uuid.UUID:
    scripted.conversation.append(tool_reply("An 80 x 50 x 5 mm plate", [80, 50, 5]))
    scripted.codegen.append(code_reply(PLATE))
    user_id, ctx_id = owner
    with session_scope() as s:
        sub = queries.submit_query(s, user_id, ctx_id, "a plate")
        qid, aid = sub.query.id, sub.assistant_item.id
    await QueryRunner(worker_id="test").run(qid)
    with session_scope() as s:
        item = s.get(ChatItem, aid)
        model = chats.model_segment(item)
        assert model["metrics"]["bbox_size_mm"] == pytest.approx([80, 50, 5], abs=0.01)
        assert "png" in {f["format"] for f in model["files"]} and "svg" not in {f["format"] for f in model["files"]}
    return aid


def _items(ctx_id) -> list[ChatItem]:
    with session_scope() as s:
        return list(s.exec(select(ChatItem).where(ChatItem.context_id == ctx_id).order_by(ChatItem.created_at)).all())


async def test_slider_change_renders_a_new_version_with_the_new_size(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    calls_before = len(scripted.requests)

    result = await edits.render_parameters(user_id, source, {"length": 120, "thickness": 8})
    assert result.ok, result.error
    assert result.metrics["bbox_size_mm"] == pytest.approx([120, 50, 8], abs=0.01)
    assert len(scripted.requests) == calls_before  # no model call

    with session_scope() as s:
        item = s.get(ChatItem, uuid.UUID(result.item_id))
        model = chats.model_segment(item)
        assert item.regenerated_from_id == source and item.role == "assistant"
        assert model["editedBy"] == "you" and model["origin"] == "parameters"
        assert model["parameters"] == {"length": 120, "thickness": 8}
        assert "length = 120.0  # mm, overall length (X) [10..500]" in model["code"]
        assert "thickness = 8.0  # mm" in model["code"]
        assert {f["format"] for f in model["files"]} == {"stl", "step", "3mf", "glb", "py", "png", "topology"}
        assert chats.text_of(item) == "You set length to 120.0 mm, thickness to 8.0 mm."
        stored = s.exec(select(StoredFile).where(StoredFile.item_id == item.id)).all()
        assert len(stored) == 7 and all(f.context_id == ctx_id for f in stored)
        ctx = s.get(ChatContext, ctx_id)
        assert versions.current_version(s, ctx).id == item.id
        listed = versions.list_versions(s, user_id, ctx_id)
        assert [v.origin for v in listed] == ["prompt", "parameters"] and listed[1].current
        assert listed[1].thumbnail_file_id and listed[1].parameters["length"] == 120


async def test_edited_code_with_an_error_keeps_the_previous_version(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    before = [i.id for i in _items(ctx_id)]

    broken = PLATE.replace("result = Box(", "result = Bx(")
    result = await edits.render_edit(user_id, source, broken, origin="edited")
    assert not result.ok and result.item_id is None
    assert result.error["kind"] and "Bx" in result.error["message"] and result.error["line"] == 7
    assert [i.id for i in _items(ctx_id)] == before
    with session_scope() as s:
        assert versions.current_version(s, s.get(ChatContext, ctx_id)).id == source

    # A fixed program becomes version 2.
    fixed = PLATE.replace("width = 50.0", "width = 30.0")
    ok = await edits.render_edit(user_id, source, fixed, origin="edited")
    assert ok.ok and ok.metrics["bbox_size_mm"] == pytest.approx([80, 30, 5], abs=0.01)
    with session_scope() as s:
        model = chats.model_segment(s.get(ChatItem, uuid.UUID(ok.item_id)))
        assert model["origin"] == "edited" and model["code"] == fixed


async def test_bad_parameter_changes_are_refused_before_rendering(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    with pytest.raises(InvalidInput, match="at most 500"):
        await edits.render_parameters(user_id, source, {"length": 900})
    with pytest.raises(InvalidInput, match="no parameter named depth"):
        await edits.render_parameters(user_id, source, {"depth": 9})
    with pytest.raises(NotFound):
        await edits.render_parameters(uuid.uuid4(), source, {"length": 90})
    assert len(_items(ctx_id)) == 2


async def test_next_prompt_iterates_on_the_edited_version(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    edited = await edits.render_parameters(user_id, source, {"length": 140})
    assert edited.ok

    scripted.conversation.append(tool_reply("Make it 10 mm thick", [140, 50, 10]))
    scripted.codegen.append(code_reply(PLATE.replace("80.0", "140.0").replace("thickness = 5.0", "thickness = 10.0")))
    with session_scope() as s:
        sub = queries.submit_query(s, user_id, ctx_id, "make it 10 mm thick")
        qid = sub.query.id
    await QueryRunner(worker_id="test").run(qid)
    request = scripted.codegen_requests()[-1].messages[0].content
    assert "Previous program" in request and "length = 140.0" in request
    # The conversation model saw the edit as a tool call with the new size.
    conv = [r for r in scripted.requests if r.model == "scripted-conversation"][-1]
    assert any("140.0 × 50.0 × 5.0" in (m.content or "") for m in conv.messages if m.role == "tool")


async def test_a_preview_changes_nothing_until_kept(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    before = [i.id for i in _items(ctx_id)]

    preview = await edits.preview_parameters(user_id, source, {"length": 100})
    assert isinstance(preview, edits.Preview)
    assert preview.metrics["bbox_size_mm"] == pytest.approx([100, 50, 5], abs=0.01)
    glb = preview.file_id("glb")
    with session_scope() as s:
        # The viewer can load the preview's files (they are the owner's), but the chat has no new version.
        assert files.get_file(s, user_id, glb).item_id is None
        assert [i.id for i in _items(ctx_id)] == before
        assert versions.current_version(s, s.get(ChatContext, ctx_id)).id == source
        assert len(versions.list_versions(s, user_id, ctx_id)) == 1

    # A slider's preview holds what the viewer shows only: the GLB (faces and edges tagged) and its face table.
    assert {f["format"] for f in preview.files} == {"glb", "topology", "py"} and not preview.complete
    with session_scope() as s:
        shown = files.get_file(s, user_id, glb).sha256
        preview_paths = [files.absolute_path(files.get_file(s, user_id, f["id"])) for f in preview.files]

    kept = await edits.keep_preview(preview)
    assert kept.ok and kept.metrics["bbox_size_mm"] == pytest.approx([100, 50, 5], abs=0.01)
    with session_scope() as s:
        item = s.get(ChatItem, uuid.UUID(kept.item_id))
        model = chats.model_segment(item)
        # Keeping rendered every format; the kept GLB is byte for byte the one the preview showed.
        assert {f["format"] for f in model["files"]} == {"stl", "step", "3mf", "glb", "py", "png", "topology"}
        kept_glb = files.get_file(s, user_id, next(f["id"] for f in model["files"] if f["format"] == "glb"))
        assert kept_glb.sha256 == shown and kept_glb.item_id == item.id
        assert model["origin"] == "parameters" and model["parameters"] == {"length": 100}
        assert chats.text_of(item) == "You set length to 100.0 mm."
        assert versions.current_version(s, s.get(ChatContext, ctx_id)).id == item.id
        with pytest.raises(NotFound):  # the preview's own files were replaced by the full render's
            files.get_file(s, user_id, glb)
    assert not any(p.exists() for p in preview_paths)
    # A preview is kept once.
    with pytest.raises(NotFound):
        await edits.keep_preview(preview)
    assert len(_items(ctx_id)) == len(before) + 1


class _Altered(RenderClient):
    """A render service that draws another model than the preview's program (or fails it), for keeping."""

    def __init__(self, change: tuple[str, str]):
        super().__init__()
        self.change = change

    async def render(self, code: str, **kw):
        return await super().render(code.replace(*self.change), **kw)


@pytest.mark.parametrize("change, says", [(("Box(length,", "Box(length + 1,"), "different 3D model"),
                                          (("Box(", "Bx("), "failed")])
async def test_keeping_a_preview_whose_full_render_differs_or_fails_stores_nothing(owner, scripted, change, says) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    preview = await edits.preview_parameters(user_id, source, {"length": 100})
    assert isinstance(preview, edits.Preview)

    def stored() -> list[tuple]:
        with session_scope() as s:
            return sorted((str(f.id), f.item_id) for f in s.exec(select(StoredFile).where(StoredFile.owner_id == user_id)))

    before, items = stored(), [i.id for i in _items(ctx_id)]
    with pytest.raises(edits.KeepFailed, match=f"Nothing was kept: .*{says}"):
        await edits.keep_preview(preview, client=_Altered(change))
    assert stored() == before and [i.id for i in _items(ctx_id)] == items  # no file, no version
    with session_scope() as s:
        assert versions.current_version(s, s.get(ChatContext, ctx_id)).id == source
    kept = await edits.keep_preview(preview)  # the preview itself is still there to keep (or discard)
    assert kept.ok


async def test_a_discarded_preview_leaves_no_file_behind(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    preview = await edits.preview_parameters(user_id, source, {"width": 30, "thickness": 3})
    assert isinstance(preview, edits.Preview)
    with session_scope() as s:
        paths = [files.absolute_path(files.get_file(s, user_id, f["id"])) for f in preview.files]
    assert paths and all(p.exists() for p in paths)

    await edits.discard_preview(preview)
    with session_scope() as s:
        for f in preview.files:
            with pytest.raises(NotFound):
                files.get_file(s, user_id, f["id"])
    assert not any(p.exists() for p in paths)
    with pytest.raises(NotFound, match="no longer available"):
        await edits.keep_preview(preview)
    assert len(_items(ctx_id)) == 2


async def test_a_preview_that_fails_to_render_stores_nothing(owner, scripted) -> None:
    user_id, ctx_id = owner
    source = await _first_version(owner, scripted)
    with session_scope() as s:
        count = len(s.exec(select(StoredFile).where(StoredFile.owner_id == user_id)).all())
    failed = await edits.preview_edit(user_id, source, PLATE.replace("Box(", "Bx("), origin="edited")
    assert isinstance(failed, edits.EditResult) and not failed.ok and "Bx" in failed.error["message"]
    with pytest.raises(InvalidInput, match="at most 500"):
        await edits.preview_parameters(user_id, source, {"length": 900})
    with session_scope() as s:
        assert len(s.exec(select(StoredFile).where(StoredFile.owner_id == user_id)).all()) == count

"""The pipeline end to end with the real render service: scripted models for each scenario, and offline."""

from __future__ import annotations

import pytest

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatItem, Query, StoredFile
from chat3d.domain import chats
from chat3d.pipeline import queries
from chat3d.pipeline.runner import QueryRunner
from chat3d.settings import get_settings, reset_settings_cache
from tests.conftest import SHARED_DIR
from tests.pipeline.conftest import query_states
from tests.support.scripted_llm import code_reply, text_reply, tool_reply

PLATE = "from build123d import *\nlength = 80.0  # mm\nresult = Box(length, 50, 5)\n"
BROKEN_NAME = (SHARED_DIR / "render-corpus" / "broken" / "name_error.py").read_text(encoding="utf-8")


def submit(owner, prompt="a plate", **kw):
    user_id, ctx_id = owner
    with session_scope() as s:
        sub = queries.submit_query(s, user_id, ctx_id, prompt, **kw)
        return sub.query.id, sub.assistant_item.id


async def run(query_id) -> tuple[Query, ChatItem]:
    await QueryRunner(worker_id="test").run(query_id)
    with session_scope() as s:
        q = s.get(Query, query_id)
        return q, s.get(ChatItem, q.assistant_item_id)


async def test_name_error_is_repaired_in_a_second_round(owner, scripted) -> None:
    scripted.conversation.append(tool_reply("An 80 x 50 x 5 mm plate", [80, 50, 5]))
    scripted.codegen += [code_reply(BROKEN_NAME), code_reply(PLATE)]
    qid, _ = submit(owner)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1
    repair = scripted.codegen_requests()[1].messages[-1].content
    assert "name" in repair and "Bx" in repair and "line" in repair.lower()
    model = chats.model_segment(item)
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([80, 50, 5], abs=0.01)
    assert {f["format"] for f in model["files"]} == {"stl", "step", "3mf", "glb", "py", "png", "topology"}
    assert [s for s, _ in query_states(owner[0], qid)] == [
        "queued", "conversation", "codegen", "rendering", "repairing", "rendering", "completed",
    ]
    # Kept: only the post step's metrics (checked), the PNG it drew, and our own copy of the program.
    assert set(model["metrics"]) == {"bbox_size_mm", "bbox_min_mm", "bbox_max_mm", "volume_mm3", "solids", "valid",
                                     "features", "parts"}  # features: issue 23's holes/bosses/wall, type-checked
    assert [p["name"] for p in model["metrics"]["parts"]] == ["Part 1"]  # issue 27: one unlabelled solid
    assert model["metrics"]["features"]["holes"] == 0 and model["metrics"]["features"]["min_wall_mm"] == pytest.approx(5)
    assert model["metrics"]["volume_mm3"] == pytest.approx(80 * 50 * 5, rel=1e-6) and model["metrics"]["solids"] == 1
    with session_scope() as s:
        from chat3d.domain.files import absolute_path
        by_format = {f["format"]: absolute_path(s.get(StoredFile, __import__("uuid").UUID(f["id"]))) for f in model["files"]}
        assert by_format["step"].read_bytes().startswith(b"ISO-10303-21")
        assert by_format["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert by_format["py"].read_text(encoding="utf-8") == model["code"] == PLATE
    run_seg = next(s for s in item.segments if s["type"] == "run")
    assert run_seg["usage"] == {"inputTokens": 500, "outputTokens": 180} and run_seg["costUsd"] > 0


async def test_three_bad_rounds_fail_with_the_last_error(owner, scripted, monkeypatch) -> None:
    monkeypatch.setenv("MAX_REPAIR_ROUNDS", "2")
    reset_settings_cache()
    scripted.conversation.append(tool_reply("A cube"))
    scripted.codegen += [code_reply(BROKEN_NAME), code_reply("result = Box(1, 1"), code_reply("result = 42")]
    qid, _ = submit(owner)
    q, item = await run(qid)
    assert q.state == "failed" and q.round == 2
    error = next(s for s in item.segments if s["type"] == "error")
    assert "after 3 attempts" in error["message"] and "not a" in error["message"].lower()
    assert error["retryable"] is True and error["code"].strip() == "result = 42"


async def test_clarifying_question_renders_nothing(owner, scripted) -> None:
    scripted.conversation.append(text_reply("What size should the bracket be?"))
    qid, _ = submit(owner, "make me a bracket")
    q, item = await run(qid)
    assert q.state == "completed"
    assert chats.model_segment(item) is None and chats.text_of(item) == "What size should the bracket be?"
    assert scripted.codegen_requests() == []


async def test_wrong_size_uses_one_geometry_repair(owner, scripted) -> None:
    scripted.conversation.append(tool_reply("An 80 x 50 x 5 mm plate", [80, 50, 5]))
    scripted.codegen += [code_reply("from build123d import *\nresult = Box(60, 50, 5)"), code_reply(PLATE)]
    qid, _ = submit(owner)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1
    repair = scripted.codegen_requests()[1].messages[-1].content
    assert "60.0 × 50.0 × 5.0" in repair and "80.0 × 50.0 × 5.0" in repair
    assert chats.model_segment(item)["metrics"]["bbox_size_mm"][0] == pytest.approx(80)


async def test_second_prompt_sends_history_and_previous_code(owner, scripted) -> None:
    scripted.conversation += [tool_reply("An 80 x 50 x 5 mm plate", [80, 50, 5], text="First plate."),
                              tool_reply("An 80 x 50 x 10 mm plate", [80, 50, 10])]
    scripted.codegen += [code_reply(PLATE), code_reply(PLATE.replace("Box(length, 50, 5)", "Box(length, 50, 10)"))]
    first, _ = submit(owner, "a plate 80 x 50 x 5")
    await run(first)
    second, _ = submit(owner, "make it 10 mm thick")
    q, item = await run(second)
    assert q.state == "completed"
    conv = [r for r in scripted.requests if r.model == "scripted-conversation"][1]
    roles = [m.role for m in conv.messages]
    assert roles == ["user", "assistant", "tool", "user"]
    assert conv.messages[0].content == "a plate 80 x 50 x 5" and conv.messages[1].tool_calls[0].name == "create_3d_model"
    assert "80.0 × 50.0 × 5.0" in conv.messages[2].content
    codegen = scripted.codegen_requests()[1].messages[0].content
    assert "Previous program" in codegen and "Box(length, 50, 5)" in codegen
    assert chats.model_segment(item)["metrics"]["bbox_size_mm"][2] == pytest.approx(10)


async def test_offline_models_plate_end_to_end(owner, pipeline_env) -> None:
    qid, _ = submit(owner, "a 80 x 50 x 5 mm plate with four 4 mm holes")
    q, item = await run(qid)
    assert q.state == "completed", q.detail
    metrics = chats.model_segment(item)["metrics"]
    assert metrics["bbox_size_mm"] == pytest.approx([80, 50, 5], abs=0.01)
    hole_area = 4 * 3.14159 * 2 ** 2 * 5
    assert metrics["volume_mm3"] == pytest.approx(80 * 50 * 5 - hole_area, rel=0.01)
    with session_scope() as s:
        assert s.get(Query, qid).conversation_model_id == "offline-conversation"
        ctx = chats.get_context(s, owner[0], owner[1])
        assert ctx.name.startswith("A 80 x 50 x 5 mm plate")


async def test_cancel_stops_at_the_next_step(owner, scripted) -> None:
    def cancel_during_conversation(req):
        if req.model == "scripted-conversation":
            with session_scope() as s:
                queries.cancel(s, owner[0], qid)

    scripted.before_reply = cancel_during_conversation
    scripted.conversation.append(tool_reply("A cube"))
    qid, _ = submit(owner)
    q, item = await run(qid)
    assert q.state == "cancelled" and scripted.codegen_requests() == []
    assert item.segments[0]["kind"] == "cancelled"


def test_concurrent_query_limit(owner, scripted, monkeypatch) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_QUERIES_PER_USER", "1")
    reset_settings_cache()
    submit(owner)
    from chat3d.domain.errors import RateLimited
    with pytest.raises(RateLimited, match="already have 1 request"):
        submit(owner)


def test_unknown_model_is_refused_clearly(owner, pipeline_env) -> None:
    from chat3d.domain.errors import InvalidInput
    with pytest.raises(InvalidInput, match="not available"):
        submit(owner, codegen_model_id="gpt-4.1")  # no OPENAI_API_KEY in tests
    with session_scope() as s:
        assert chats.list_items(s, owner[0], owner[1]).total == 0  # nothing half-stored


async def test_regenerate_appends_a_linked_answer(owner, scripted) -> None:
    scripted.conversation += [tool_reply("A cube"), tool_reply("A cube")]
    scripted.codegen += [code_reply("from build123d import *\nresult = Box(5, 5, 5)")] * 2
    qid, first_item = submit(owner)
    await run(qid)
    with session_scope() as s:
        sub = queries.regenerate(s, owner[0], first_item)
        new_q, _new_item = sub.query.id, sub.assistant_item.id
    q, item = await run(new_q)
    assert q.state == "completed" and item.regenerated_from_id == first_item
    with session_scope() as s:
        assert chats.list_items(s, owner[0], owner[1]).total == 3  # prompt, answer, regenerated answer


async def test_images_reach_only_models_that_can_see(owner, scripted, monkeypatch) -> None:
    import io

    from PIL import Image

    from chat3d.db.models import FileKind
    from chat3d.domain import files
    from chat3d.llm import registry

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buf, "PNG")
    with session_scope() as s:
        upload = files.store_bytes(s, owner[0], buf.getvalue(), fmt="png", filename="sketch.png", kind=FileKind.upload)
        upload_id = str(upload.id)

    scripted.conversation += [text_reply("A red square; what size?"), text_reply("What size?")]
    qid, _ = submit(owner, "like this sketch", attachments=[upload_id])
    await run(qid)
    blind = [r for r in scripted.requests if r.model == "scripted-conversation"][-1].messages[-1]
    assert blind.images == [] and "cannot see" in blind.content

    seeing = [registry.ModelSpec(m.id, m.provider, m.model, m.stages, True) if m.id == "scripted-conversation" else m
              for m in registry.configured_models(get_settings())]
    monkeypatch.setattr(registry, "configured_models", lambda settings: seeing)
    qid, _ = submit(owner, "and this one", attachments=[upload_id])
    await run(qid)
    sees = [r for r in scripted.requests if r.model == "scripted-conversation"][-1].messages[-1]
    assert len(sees.images) == 1 and sees.images[0].data == buf.getvalue() and sees.images[0].media_type == "image/png"


async def test_inch_chats_ask_the_model_in_inches(owner, scripted) -> None:
    with session_scope() as s:
        chats.update_context(s, owner[0], owner[1], units="in")
    scripted.conversation.append(text_reply("How thick, in inches?"))
    qid, _ = submit(owner, "a 3 x 2 inch plate")
    await run(qid)
    system = [r for r in scripted.requests if r.model == "scripted-conversation"][-1].system
    assert "inches" in system and "25.4 mm" in system

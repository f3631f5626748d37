"""Follow-ups build on the chat's current version (issue 26, item 1), through the real pipeline and render service.

The scenario from the issue: a plate, slider values kept (100 x 70), a centre hole added by hand, then
"make the corner holes 6 mm" - and the same from "Build on this" on an older version. The geometry the
render service measured says what was kept, not the reply text.
"""

from __future__ import annotations

import math
import re
import uuid

import pytest

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatItem, Query
from chat3d.domain import chats, versions
from chat3d.pipeline import edits, queries
from chat3d.pipeline.runner import QueryRunner
from tests.support.scripted_llm import code_reply, tool_reply


def add_centre_hole(code: str) -> str:
    """The user's hand edit: a parameter of their own and a centre hole using it."""
    code = re.sub(r"(?m)^(edge_fillet = .*)$", r"\1\ncentre_hole_diameter = 10.0  # mm, added by hand [1..40]", code)
    return code.replace("\nresult = part.part", "\n    with Locations((0, 0)):\n        Hole(centre_hole_diameter / 2)\n\nresult = part.part")


async def ask(owner, prompt: str) -> tuple[Query, ChatItem, dict]:
    user_id, ctx_id = owner
    with session_scope() as s:
        sub = queries.submit_query(s, user_id, ctx_id, prompt)
        qid = sub.query.id
    await QueryRunner(worker_id="test").run(qid)
    with session_scope() as s:
        q = s.get(Query, qid)
        item = s.get(ChatItem, q.assistant_item_id)
        return q, item, chats.model_segment(item) or {}


def model_of(item_id) -> dict:
    with session_scope() as s:
        return chats.model_segment(s.get(ChatItem, uuid.UUID(str(item_id))))


def plate_volume(length, width, thickness, corner_hole, centre_hole=0.0) -> float:
    holes = 4 * math.pi * (corner_hole / 2) ** 2 + math.pi * (centre_hole / 2) ** 2
    return (length * width - holes) * thickness


async def hand_edited_version(owner) -> tuple[uuid.UUID, uuid.UUID]:
    """v1 from a prompt, v2 with slider values kept (100 x 70), v3 with a centre hole added by hand."""
    user_id, _ = owner
    q, v1, model = await ask(owner, "a 96 x 60 x 5 mm plate with four 4.8 mm holes")
    assert q.state == "completed", q.detail
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([96, 60, 5], abs=0.01)
    kept = await edits.render_parameters(user_id, v1.id, {"length": 100, "width": 70})
    assert kept.ok, kept.error
    code = model_of(kept.item_id)["code"]
    edited = await edits.render_edit(user_id, kept.item_id, add_centre_hole(code))
    assert edited.ok, edited.error
    assert edited.metrics["volume_mm3"] == pytest.approx(plate_volume(100, 70, 5, 4.8, 10), rel=1e-4)
    return uuid.UUID(kept.item_id), uuid.UUID(edited.item_id)


async def test_a_follow_up_keeps_slider_values_and_hand_edits(owner, pipeline_env) -> None:
    """The issue's scenario: before, the plate went back to 96 x 60 and lost its centre hole."""
    _, v3 = await hand_edited_version(owner)

    q, item, model = await ask(owner, "make the corner holes 6 mm")

    assert q.state == "completed", q.detail
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([100, 70, 5], abs=0.01)
    assert model["metrics"]["volume_mm3"] == pytest.approx(plate_volume(100, 70, 5, 6, 10), rel=1e-4)
    assert "Hole(centre_hole_diameter / 2)" in model["code"]
    reply = chats.text_of(item)
    assert "hole diameter 4.8 → 6" in reply and "your hand edits included, is kept" in reply

    # the parameter the user added is changed by its name, and only it
    q, item, model = await ask(owner, "make the centre hole 12 mm")
    assert q.state == "completed", q.detail
    assert model["metrics"]["volume_mm3"] == pytest.approx(plate_volume(100, 70, 5, 6, 12), rel=1e-4)
    assert "centre hole diameter 10 → 12" in chats.text_of(item)


async def test_slider_values_survive_a_follow_up(owner, pipeline_env) -> None:
    user_id, _ = owner
    _, v1, _ = await ask(owner, "a 96 x 60 x 5 mm plate with four 4.8 mm holes")
    assert (await edits.render_parameters(user_id, v1.id, {"length": 100, "width": 70})).ok

    q, item, model = await ask(owner, "make it 8 mm thick")

    assert q.state == "completed", q.detail
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([100, 70, 8], abs=0.01)
    assert "thickness 5 → 8" in chats.text_of(item) and "length" not in chats.text_of(item).split("changed:", 1)[1]


async def test_build_on_this_starts_from_the_chosen_version(owner, pipeline_env) -> None:
    user_id, ctx_id = owner
    _, v3 = await hand_edited_version(owner)
    q, v4, model = await ask(owner, "make it 10 mm thick")
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([100, 70, 10], abs=0.01)
    with session_scope() as s:
        versions.restore(s, user_id, ctx_id, v3)  # "Build on this" on the hand-edited version

    q, item, model = await ask(owner, "make the corner holes 6 mm")

    assert q.state == "completed", q.detail
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([100, 70, 5], abs=0.01)  # v3's thickness, not v4's
    assert model["metrics"]["volume_mm3"] == pytest.approx(plate_volume(100, 70, 5, 6, 10), rel=1e-4)


async def test_an_edit_the_offline_provider_cannot_carry_is_said_and_nothing_is_saved(owner, pipeline_env) -> None:
    user_id, ctx_id = owner
    _, v1, model = await ask(owner, "a 80 x 50 x 5 mm plate")
    # rewritten by hand so that the template's edge_fillet parameter is gone
    code = "\n".join(line for line in model["code"].splitlines() if not line.startswith("edge_fillet"))
    edited = await edits.render_edit(user_id, v1.id, code.replace("edge_fillet", "0.0"))
    assert edited.ok, edited.error
    with session_scope() as s:
        count = len(versions.list_versions(s, user_id, ctx_id))

    q, item, model = await ask(owner, "add 2 mm fillets on every edge")

    assert q.state == "completed" and model == {}
    assert "nothing was changed or saved" in chats.text_of(item)
    with session_scope() as s:
        assert len(versions.list_versions(s, user_id, ctx_id)) == count
        assert versions.current_version(s, s.get(type(chats.get_context(s, user_id, ctx_id)), ctx_id)).id == uuid.UUID(edited.item_id)


async def test_every_provider_is_shown_the_current_program(owner, scripted) -> None:
    """A model behind an API gets the current version's program (with the hand edit) in its instructions,
    and the same program as the codegen base; after "Build on this", the chosen version's."""
    user_id, ctx_id = owner
    plate = ("from build123d import *\n\nlength = 80.0  # mm [10..500]\n\n"
             "result = Box(length, 50, 5, align=(Align.CENTER, Align.CENTER, Align.MIN))\n")
    scripted.conversation.append(tool_reply("An 80 x 50 x 5 mm plate", [80, 50, 5]))
    scripted.codegen.append(code_reply(plate))
    _, v1, _ = await ask(owner, "a plate")
    edited = plate.replace("result = Box", "# my own edit\nresult = Box")
    kept = await edits.render_edit(user_id, v1.id, edited)
    assert kept.ok, kept.error

    scripted.conversation.append(tool_reply("An 80 x 50 x 8 mm plate", [80, 50, 8]))
    scripted.codegen.append(code_reply(edited.replace("Box(length, 50, 5", "Box(length, 50, 8")))
    await ask(owner, "make it 8 mm thick")
    conversation = [r for r in scripted.requests if r.model == "scripted-conversation"][-1]
    assert "# my own edit" in conversation.system and "sliders, edited the code by hand" in conversation.system
    assert "# my own edit" in scripted.codegen_requests()[-1].messages[0].content

    with session_scope() as s:
        versions.restore(s, user_id, ctx_id, v1.id)
    scripted.conversation.append(tool_reply("An 80 x 50 x 6 mm plate", [80, 50, 6]))
    scripted.codegen.append(code_reply(plate.replace("Box(length, 50, 5", "Box(length, 50, 6")))
    await ask(owner, "make it 6 mm thick")
    conversation = [r for r in scripted.requests if r.model == "scripted-conversation"][-1]
    assert "# my own edit" not in conversation.system and "result = Box(length, 50, 5" in conversation.system
    assert "# my own edit" not in scripted.codegen_requests()[-1].messages[0].content


def test_a_very_long_program_goes_only_to_the_codegen_model() -> None:
    from chat3d.pipeline.prompting import MAX_PROGRAM_IN_CONVERSATION, codegen_request, conversation_system

    short = "from build123d import *\nresult = Box(1, 2, 3)  # mine\n"
    long = short + "x = 1\n" * (MAX_PROGRAM_IN_CONVERSATION // 6 + 1)
    assert short.strip() in conversation_system("mm", short)
    system = conversation_system("mm", long)
    assert "# mine" not in system and f"{len(long):,} characters" in system
    assert long in codegen_request("brief", None, long)

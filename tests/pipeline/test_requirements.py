"""Issue 23 in the pipeline (real render service, scripted models): a stated requirement the measured part
misses goes to the repair loop once (counted in rounds and tokens); after that budget the part is delivered
with its ✗ items and the reply says so."""

from __future__ import annotations

from chat3d.domain import chats
from chat3d.llm.base import Completion, ToolCall, Usage
from tests.pipeline.test_runner import run, submit
from tests.support.scripted_llm import CONVERSATION_ID, code_reply

PLATE = """from build123d import *
with BuildPart() as p:
    Box(80, 50, 5)
    with GridLocations(60, 30, 2, 2):
        Hole({r})
result = p.part
"""
WANTED = [{"kind": "size", "value": [80, 50, 5], "source": "stated"},
          {"kind": "holes", "count": 4, "diameter_mm": 4, "source": "stated"},
          {"kind": "thickness", "value": 5, "source": "assumed"}]


def tool_call() -> Completion:
    args = {"brief": "An 80 x 50 x 5 mm plate with four 4 mm holes", "expected_bbox_mm": [80, 50, 5], "units": "mm",
            "requirements": WANTED}
    return Completion("Modelling it.", [ToolCall("call_1", "create_3d_model", args)], Usage(100, 20), CONVERSATION_ID,
                      "tool_calls")


async def test_a_failed_requirement_is_repaired_once(owner, scripted) -> None:
    scripted.conversation.append(tool_call())
    scripted.codegen += [code_reply(PLATE.format(r=2.5)), code_reply(PLATE.format(r=2))]
    qid, _ = submit(owner, "an 80 x 50 x 5 plate with four 4 mm holes")
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1
    repair = scripted.codegen_requests()[1].messages[-1].content
    assert "4 holes Ø4: found 4 holes (Ø5)" in repair and "Hole(2.5)" in repair
    rows = chats.model_segment(item)["requirements"]
    assert [(r["label"], r["status"]) for r in rows] == [("80 × 50 × 5 mm", "pass"), ("4 holes Ø4", "pass"),
                                                         ("5 mm thick", "assumed")]
    assert q.input_tokens == 100 + 2 * 200  # both codegen rounds are counted
    assert "Not met" not in item.segments[0]["text"]


async def test_after_the_budget_the_part_is_delivered_with_its_crosses(owner, scripted) -> None:
    scripted.conversation.append(tool_call())
    scripted.codegen += [code_reply(PLATE.format(r=2.5)), code_reply(PLATE.format(r=3))]
    qid, _ = submit(owner, "an 80 x 50 x 5 plate with four 4 mm holes")
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1  # one requirement round (REQUIREMENT_REPAIR_ROUNDS=1), no more
    assert len(scripted.codegen_requests()) == 2
    rows = chats.model_segment(item)["requirements"]
    assert [r["status"] for r in rows] == ["pass", "fail", "assumed"]
    assert item.segments[0]["text"] == ("Modelling it.\n\nNot met after 1 repair round: 4 holes Ø4 "
                                        "(found 4 holes (Ø6)).")

"""What each model is sent: the chat's history as provider-neutral messages, codegen and repair requests."""

from __future__ import annotations

import json

from chat3d.db.models import ChatItem, ItemRole
from chat3d.domain import segments
from chat3d.llm.base import ImageInput, Message, ToolCall
from chat3d.llm.prompts import load_prompt
from chat3d.llm.tools import CREATE_3D_MODEL
from chat3d.services.render_client import RenderFailure

MM_PER_INCH = 25.4


CURRENT_PROGRAM_HEADING = "## The current version's program"
MAX_PROGRAM_IN_CONVERSATION = 30_000  # characters; a longer program goes only to the codegen model (in full)


def conversation_system(units: str, current_program: str | None = None) -> str:
    """The conversation model's instructions, with the program the next change applies to.

    The briefs in the history say what was asked, not what the chat holds now: the user may since have moved
    sliders, edited the code by hand or chosen an older version to build on. So every provider is shown the
    current version's program and told to build the next brief from it."""
    system = load_prompt("conversation_system")
    if units == "in":
        system += (
            "\n\nThis user works in inches. Talk in inches, but write the brief and expected_bbox_mm in "
            "millimetres (1 in = 25.4 mm), stating the inch values in parentheses."
        )
    if current_program and len(current_program) > MAX_PROGRAM_IN_CONVERSATION:
        system += (
            f"\n\n{CURRENT_PROGRAM_HEADING}\n\nA follow-up request changes the chat's current version, whose program "
            f"({len(current_program):,} characters, too long to show here) the modelling step receives in full: it "
            "may differ from the briefs in the conversation (sliders, hand edits, an older version chosen to build "
            "on), so describe the change and ask the modelling step to keep everything else in that program."
        )
    elif current_program:
        system += (
            f"\n\n{CURRENT_PROGRAM_HEADING}\n\nA follow-up request changes the chat's current version, whose "
            "program is below. It can differ from the briefs in the conversation (the user may have moved "
            "sliders, edited the code by hand or chosen an older version to build on): take its dimensions and "
            "every feature in it, including ones added by hand, as the starting point, and keep them in the new "
            f"brief unless the request changes them.\n\n```python\n{current_program.rstrip()}\n```"
        )
    return system


def history_messages(items: list[ChatItem], images: dict[str, ImageInput] | None = None) -> list[Message]:
    """Past turns, with each earlier model request replayed as the tool call and result it was."""
    messages: list[Message] = []
    for item in items:
        text = segments.text_of(item.segments)
        if item.role == ItemRole.user.value:
            attached = [images[fid] for fid in segments.attached_ids(item.segments) if images and fid in images]
            messages.append(Message("user", text, images=attached))
            continue
        model = segments.model_of(item.segments)
        call = model.get("toolCall") if model else None
        if model and call:
            messages.append(
                Message("assistant", text, tool_calls=[ToolCall(call["id"], CREATE_3D_MODEL.name, call["arguments"])])
            )
            messages.append(Message("tool", tool_result_text(model), tool_call_id=call["id"]))
        elif text:
            messages.append(Message("assistant", text))
    return messages


def tool_result_text(model: segments.ModelSegment) -> str:
    metrics = model.get("metrics") or {}
    size = metrics.get("bbox_size_mm")
    dims = " × ".join(f"{v:.1f}" for v in size) + " mm" if size else "unknown size"
    return f"Model rendered: bounding box {dims}, volume {metrics.get('volume_mm3', 0):.0f} mm³, valid={metrics.get('valid')}."


def codegen_request(
    brief: str, expected_bbox: list[float] | None, previous_code: str | None, input_names: list[str] | None = None
) -> str:
    parts = [f"Design brief:\n{brief}"]
    if expected_bbox:
        parts.append("Expected bounding box (mm, X × Y × Z): " + " × ".join(f"{v:g}" for v in expected_bbox))
    if previous_code:
        parts.append(
            "This is an iteration. Edit the previous program below rather than starting over; keep its "
            "parameter names, and keep every feature in it (the user may have added some by hand) unless the "
            f"brief changes it.\n\nPrevious program:\n```python\n{previous_code}\n```"
        )
    if input_names:
        names = ", ".join(f'"{n}"' for n in input_names)
        parts.append(
            f"The program builds on the user's imported file(s) {names}, which sit next to it: keep the line that "
            "loads them (by that bare name, with import_step or Mesher().read) and model around `imported` "
            "(booleans, added or removed features, transforms). No other file can be read."
        )
    parts.append("Return the complete program in one ```python block.")
    return "\n\n".join(parts)


def repair_request(failure: RenderFailure, code: str) -> str:
    return load_prompt(
        "repair",
        kind=failure.kind,
        message=failure.message,
        line=failure.line if failure.line else "unknown",
        code=code,
    )


def geometry_repair_request(expected: list[float], actual: list[float], code: str) -> str:
    exp = " × ".join(f"{v:.1f}" for v in expected)
    act = " × ".join(f"{v:.1f}" for v in actual)
    failure = RenderFailure(
        kind="geometry_mismatch",
        message=f"The part rendered with a bounding box of {act} mm, but the brief expects {exp} mm (X × Y × Z).",
    )
    return repair_request(failure, code)


def bbox_mismatch(expected: list[float] | None, actual: list[float] | None, pct: float, abs_mm: float) -> bool:
    """True when any axis differs by more than the tolerance (the larger of pct % and abs_mm)."""
    if not expected or not actual or len(expected) != 3 or len(actual) != 3:
        return False
    return any(abs(e - a) > max(abs(e) * pct / 100, abs_mm) for e, a in zip(expected, actual))


def parse_tool_arguments(raw: dict) -> tuple[str, list[float] | None]:
    brief = str(raw.get("brief") or "").strip()
    bbox = raw.get("expected_bbox_mm")
    if isinstance(bbox, str):
        try:
            bbox = json.loads(bbox)
        except ValueError:
            bbox = None
    if not (isinstance(bbox, list) and len(bbox) == 3 and all(isinstance(v, (int, float)) and v > 0 for v in bbox)):
        bbox = None
    return brief, [float(v) for v in bbox] if bbox else None

"""The offline provider: rule-based conversation plus parametric templates, no network.

It answers through the same `LLMProvider.complete` interface as real models so the whole
pipeline (tool calls, streaming, code extraction, iteration) runs without an API key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chat3d.domain.parameters import ParameterError, apply_parameters, extract_parameters
from chat3d.domain.selection import SELECTION_MARK
from chat3d.domain.selection import parse_context as parse_selection
from chat3d.domain.selection import without_context as without_selection
from chat3d.llm.base import Completion, LLMProvider, Message, TextCallback, ToolCall, ToolSpec, Usage, emit
from chat3d.llm.codeblock import extract_code
from chat3d.llm.offline import imported as imp
from chat3d.llm.offline.families import PLATE, hand_edited, render_code, spec_from_code
from chat3d.llm.offline.model import PartSpec, exact_extents
from chat3d.llm.offline.nearest import outside_templates
from chat3d.llm.offline.pointing import map_selection
from chat3d.llm.offline.requirements import tool_arguments as offline_requirements
from chat3d.llm.offline.spec import (
    apply_change,
    describe,
    detect_family,
    format_number,
    has_dimensions,
    normalize,
    parse_part,
    read_change,
    read_request,
)
from chat3d.llm.tools import CREATE_3D_MODEL

CONVERSATION_MODEL = "offline-conversation"
CODEGEN_MODEL = "offline-templates"
FAMILY_EXAMPLES = "plate or box with holes, cylinder or tube, flange, L-bracket, spur gear, enclosure, knob, tray with dividers, vase, or spring"

_CHANGE = re.compile(
    r"\b(?:make (?:it|the)|change|increase|decrease|reduce|add|remove|more|less|instead|set|without|no holes|use|"
    r"round|fillet|chamfer|bevel|lid|angle|tilt|lean|"
    r"bigger|smaller|larger|thicker|thinner|taller|shorter|longer|wider|narrower|deeper|twice|double|half)\b|%"
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|thanks|thank you|cheers)\b", re.I)
_QUESTION = re.compile(r"\?\s*$|^\s*(?:what|how|which|why|can|could|do|does|is|are|who|help)\b", re.I)
_FAILURE = re.compile(r"\b(?:error|failed|failure|exception|traceback|invalid)\b", re.I)
_UNSEEN_IMAGES = re.compile(r"\s*\[The user attached \d+ image\(s\), which this model cannot see\.\]")
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
# The codegen request's "Expected bounding box" line: its "box" named the plate template, so every cylinder or tube
# brief was built as a plate of the same size (found by the requirement checks of issue 23).
_EXPECTED_BBOX = re.compile(r"^Expected bounding box\b.*$", re.M)


class OfflineProvider(LLMProvider):
    """Deterministic stand-in for both stages: `offline-conversation` and `offline-templates`."""

    async def complete(
        self,
        *,
        model: str,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        on_text: TextCallback | None = None,
        timeout_s: float | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        tool_calls: list[ToolCall]
        if model == CODEGEN_MODEL:
            text, tool_calls = f"```python\n{generate_code(messages)}```\n", []
        else:
            text, tool_calls = converse(messages, tools or [], system)
        for chunk in _chunks(text):
            await emit(on_text, chunk)
        usage = Usage(_words(system) + sum(_words(m.content) for m in messages), _words(text))
        return Completion(text, tool_calls, usage, model, "tool_calls" if tool_calls else "stop")


# --- conversation -----------------------------------------------------------------------------


SETUP_LINK = "[Set up a model](/admin)"


@dataclass
class Base:
    """The part a follow-up changes: the chat's current version when its program is known (sent in the
    system prompt, see `chat3d.pipeline.prompting.conversation_system`), else the latest brief."""

    spec: PartSpec | None
    program: str | None = None
    hand_edited: bool = False  # the program is not what its template makes from its parameter values
    foreign: bool = False  # a program no offline template wrote (another model's, or rewritten by hand)


def current_program(system: str) -> str | None:
    """The current version's program, when the conversation's instructions carry it."""
    from chat3d.pipeline.prompting import CURRENT_PROGRAM_HEADING

    if CURRENT_PROGRAM_HEADING not in system:
        return None
    blocks = _code_blocks(system.split(CURRENT_PROGRAM_HEADING, 1)[1])
    return blocks[-1] if blocks and blocks[-1].strip() else None


def _base(system: str, history: list[Message]) -> Base:
    program = current_program(system)
    if program is None or imp.is_imported_program(program):
        return Base(_latest_spec(history))
    spec = spec_from_code(program)
    if spec is None:
        return Base(None, program, foreign=True)
    return Base(spec, program, hand_edited=hand_edited(program, spec))


def converse(messages: list[Message], tools: list[ToolSpec], system: str = "") -> tuple[str, list[ToolCall]]:
    """Reply text and tool calls for the latest turn: model a part, update it, or talk."""
    last = messages[-1] if messages else Message("user", "")
    if last.role == "tool":
        if (name := _latest_import(messages)) is not None and not _FAILURE.search(last.content):
            return (
                f'Your edited part (imported from {name}) is ready. Ask for another change like "add a 6 mm hole".',
                [],
            )
        return _after_tool(last.content, _latest_spec(messages)), []
    request = last.content
    pointed = ""
    if SELECTION_MARK in request:  # issue 27: a picked face stands for a template parameter (offline/pointing.py)
        rows, request = parse_selection(request), without_selection(request)
        mapped, pointed = map_selection(request, rows, _base(system, messages[:-1]).spec)
        if mapped is None:
            return pointed, []
        request = mapped
    unseen = _UNSEEN_IMAGES.search(request)
    if unseen:  # the runner's note that pictures were attached; this provider sees none
        request = _UNSEEN_IMAGES.sub("", request)
        if not has_dimensions(request) and not re.search(r"\d", request):
            return outside_templates(last.content), []
    on_import = _latest_import(messages[:-1])
    if on_import is not None and (imp.parse_change(request) or detect_family(request) is None):
        return _converse_imported(request, on_import, messages, tools)
    base = _base(system, messages[:-1])
    extra, request = _own_parameter_changes(request, base)
    spec, intro = _requested_spec(request, base, extra)
    if spec is None:
        if intro:
            return intro, []
        if _GREETING.search(request):
            return (
                f"Hello! Describe a part and I'll model it — for example a {FAMILY_EXAMPLES}, with its main dimensions.",
                [],
            )
        return outside_templates(last.content if unseen else request, question=bool(_QUESTION.search(request))), []
    if unseen:
        intro += (
            f" I can't see the attached picture (that needs a vision model: {SETUP_LINK}), so this is from your "
            "words only."
        )
    brief = describe(spec) + (
        f" {OWN_PARAMETERS} "
        + "; ".join(f"{name.replace('_', ' ')}: {format_number(value)}" for name, value in extra.items())
        + "."
        if extra
        else ""
    )
    arguments = {"brief": brief, "expected_bbox_mm": exact_extents(spec), "units": "mm"}
    arguments |= offline_requirements(spec, base.spec, request, intro, messages[:-1])  # issue 23: checked on the solid
    if not any(t.name == CREATE_3D_MODEL.name for t in tools):
        return f"{intro}\n\n{brief}", []
    call_number = sum(len(m.tool_calls) for m in messages) + 1
    intro = f"{pointed} {intro}".strip() if pointed else intro
    return intro, [ToolCall(f"offline_call_{call_number}", CREATE_3D_MODEL.name, arguments)]


def _not_modelled(items: list[str]) -> str:
    return f" Not modelled (the offline templates can't): {'; '.join(items)}." if items else ""


OWN_PARAMETERS = "In the user's edited program, also set:"
_GENERIC_WORDS = {
    "diameter",
    "dia",
    "size",
    "radius",
    "width",
    "length",
    "height",
    "depth",
    "thickness",
    "count",
    "number",
    "mm",
    "d",
    "r",
    "w",
    "h",
}


def _own_parameter_changes(request: str, base: Base) -> tuple[dict[str, float], str]:
    """Values for parameters the user added by hand ("centre_hole_diameter"), named by their words in the request
    ("make the centre hole 12 mm"); returns them and the request without those words."""
    if not (base.hand_edited and base.program and base.spec):
        return {}, request
    template = {p.name for p in base.spec.family.params}
    text, found = normalize(request).replace("center", "centre"), {}
    for param in _parameters(base.program):
        words = [w for w in param.name.lower().replace("center", "centre").split("_") if w not in _GENERIC_WORDS]
        if param.name in template or not words:
            continue
        match = re.search(
            r"\b" + r"\s+".join(map(re.escape, words)) + r"(?:\s+(?:diameter|dia|size|width|to|of|at|is|=|:))*\s*"
            r"(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mm|cm|inch|in)?\b",
            text,
        )
        if match:
            found[param.name] = float(match["v"]) * {"cm": 10.0, "inch": 25.4, "in": 25.4}.get(match["u"] or "mm", 1.0)
            text = text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]
    return found, (text if found else request)


def _requested_spec(request: str, base: Base, extra: dict[str, float] | None = None) -> tuple[PartSpec | None, str]:
    """The part this turn asks for (a change to the current part, or a new one) and a sentence saying so.
    (None, text) answers without modelling: nothing is saved, and the text says why."""
    family = detect_family(request)
    previous = base.spec
    if base.foreign and family is None and _CHANGE.search(request.lower()):
        return None, (
            "The current version's program wasn't written by the offline templates (another model wrote it, or it "
            "was rewritten by hand), so I can't change it offline and nothing was saved. Describe a new part to "
            f"start from a template ({FAMILY_EXAMPLES}), edit the program in the Code tab, or {SETUP_LINK} that "
            "can edit any program."
        )
    if previous is not None and (family is None or family is previous.family):  # a change to the previous part
        reading = read_request(previous.family, request)
        if _CHANGE.search(request.lower()) or reading.values or extra:
            return _change(request, previous, base, extra or {})
    if family is None and not has_dimensions(request):
        return None, ""
    spec = parse_part(request, family or PLATE)
    reading = read_request(spec.family, request)
    assumed = [
        f"{p.label} {format_number(spec.params[p.name])}{_unit(p.unit)}"
        for p in spec.family.params
        if p.name not in reading.values
    ]
    title = _title(spec.family)
    article = "an" if title[0] in "aeiou" or title[1:2] == "-" and title[0] in "AEFHILMNORSX" else "a"  # an L-bracket
    intro = f"I'll model {article} {title}: {describe(spec).split(' — ', 1)[1]}"
    intro += f" I assumed {', '.join(assumed)}; tell me if any should differ." if assumed else ""
    return spec, intro + _not_modelled(reading.unmodelled)


def _title(family) -> str:
    """The family's name inside a sentence ("plate/block", but "L-bracket")."""
    return family.title if family.title[1:2] == "-" else family.title.lower()


def _unit(unit: str) -> str:
    return "°" if unit == "deg" else "" if unit == "count" else f" {unit}"


def _change(request: str, previous: PartSpec, base: Base, extra: dict[str, float]) -> tuple[PartSpec | None, str]:
    spec, unmodelled = read_change(previous, request)
    title = _title(spec.family)
    changed = [p for p in spec.family.params if spec.params[p.name] != previous.params[p.name]]
    own = {p.name: p.value for p in _parameters(base.program or "")}
    extra = {name: value for name, value in extra.items() if own.get(name) != value}
    if not changed and not extra:
        can = ", ".join(p.label for p in spec.family.params)
        why = (
            f"The offline templates can't do what you asked:{_not_modelled(unmodelled).split(':', 1)[1]}"
            if unmodelled
            else "I couldn't find a change I can make in that request."
        )
        return None, (
            f"{why} Nothing was changed or saved. For this {title} I can change: {can}; for other "
            f"changes edit the program in the Code tab, or {SETUP_LINK}."
        )
    if base.hand_edited and base.program is not None:
        names = {p.name for p in _parameters(base.program)}
        missing = [p.label for p in changed if p.name not in names]
        if missing:
            return None, (
                "The current version's program differs from the offline template (edited by hand, or made by an "
                f"older template), and it has no {', '.join(missing)} parameter, so I can't make this change without "
                "dropping your edits — nothing was changed or saved. Edit the program in the Code tab, or "
                f"{SETUP_LINK} that can edit any program."
            )
    what = ", ".join(
        [f"{p.label} {format_number(previous.params[p.name])} → {format_number(spec.params[p.name])}" for p in changed]
        + [
            f"{name.replace('_', ' ')} {format_number(own[name])} → {format_number(value)}"
            for name, value in extra.items()
        ]
    )
    kept = (
        " The rest of the program, your hand edits included, is kept as it is: only these values change in it."
        if base.hand_edited
        else ""
    )
    return spec, f"Updating the {title} — changed: {what}.{kept}{_not_modelled(unmodelled)}"


def _parameters(program: str) -> list:
    try:
        return extract_parameters(program)
    except ParameterError:
        return []


def _latest_spec(messages: list[Message]) -> PartSpec | None:
    """The part from the most recent create_3d_model call in the history."""
    for message in reversed(messages):
        for call in reversed(message.tool_calls):
            if call.name == CREATE_3D_MODEL.name and (spec := parse_part(str(call.arguments.get("brief", "")))):
                return spec
    return None


def _latest_import(messages: list[Message]) -> str | None:
    """The imported file's name when the most recent create_3d_model call worked on an imported part."""
    for message in reversed(messages):
        for call in reversed(message.tool_calls):
            if call.name == CREATE_3D_MODEL.name:
                return imp.imported_name(str(call.arguments.get("brief", "")))
    return None


def _converse_imported(
    request: str, name: str, messages: list[Message], tools: list[ToolSpec]
) -> tuple[str, list[ToolCall]]:
    """A change to an imported part: the few the templates can make, or an honest answer."""
    change = imp.parse_change(request)
    if change is None:
        if _GREETING.search(request) or _QUESTION.search(request) or not _CHANGE.search(request.lower()):
            return (
                f"This chat works on your imported file {name}. Offline I can {imp.SUPPORTED}; "
                "connect an API key or Ollama for other changes to an imported part."
            ), []
        return (
            f"I can't make that change to the imported part {name} with the offline templates: I can only "
            f"{imp.SUPPORTED}. Connect an API key or Ollama for free-form edits."
        ), []
    brief = f"[imported: {name}] Modify the imported part: {change.describe()}. (Request: {request.strip()[:300]})"
    intro = f"Editing the imported part {name}: {change.describe()}."
    if not any(t.name == CREATE_3D_MODEL.name for t in tools):
        return f"{intro}\n\n{brief}", []
    call_number = sum(len(m.tool_calls) for m in messages) + 1
    return intro, [ToolCall(f"offline_call_{call_number}", CREATE_3D_MODEL.name, {"brief": brief, "units": "mm"})]


def _after_tool(result: str, spec: PartSpec | None) -> str:
    if _FAILURE.search(result):
        first_line = result.strip().splitlines()[0] if result.strip() else "no details"
        return f"The model didn't build: {first_line}. Try different dimensions or a simpler part."
    part = _title(spec.family) if spec else "part"
    return f'Your {part} is ready. Ask for changes like "make it 10 mm thicker" or "add 2 holes".'


# --- code generation --------------------------------------------------------------------------


def generate_code(messages: list[Message]) -> str:
    """A template program for the latest request, editing the previous program when there is one.

    A previous program that was edited by hand keeps its edits: only the parameter values the request
    changes are rewritten in it (`apply_parameters`), instead of rebuilding it from the template."""
    user_turns = [m.content for m in messages if m.role == "user"]
    request = _EXPECTED_BBOX.sub("", _CODE_BLOCK.sub("", without_selection(user_turns[-1]) if user_turns else ""))
    imported_code = next(
        (
            code
            for m in reversed(messages)
            for code in reversed(_code_blocks(m.content))
            if imp.is_imported_program(code)
        ),
        None,
    )
    latest_code = next(
        (code for m in reversed(messages) for code in reversed(_code_blocks(m.content)) if code.strip()), ""
    )
    if _FAILURE.search(request) and "Design brief:" not in request and imp.is_imported_program(latest_code):
        return imp.base_program(latest_code)  # a repair: fall back to the imported part as it was loaded
    if imported_code is not None and imp.MARKER.search(request.split("Design brief:", 1)[-1].strip()):
        change = imp.parse_change(request.split("Previous program:", 1)[0])
        return imp.apply_change(imported_code, change) if change else imported_code
    previous_code, previous = next(
        (
            (code, spec)
            for m in reversed(messages)
            for code in reversed(_code_blocks(m.content))
            if (spec := spec_from_code(code))
        ),
        ("", None),
    )
    family = detect_family(request)
    if previous is None or (family is not None and family is not previous.family):
        return render_code(parse_part(request, family or PLATE))
    if _FAILURE.search(request):  # a repair request: the templates are known-good, so rebuild as is
        return previous_code if hand_edited(previous_code, previous) else render_code(previous)
    brief, own = request.split(OWN_PARAMETERS, 1) if OWN_PARAMETERS in request else (request, "")
    spec = apply_change(previous, brief)
    if hand_edited(previous_code, previous):
        changed = {
            p.name: spec.params[p.name] for p in spec.family.params if spec.params[p.name] != previous.params[p.name]
        }
        template = {p.name for p in spec.family.params}
        for param in _parameters(previous_code):  # parameters the user added, set by name in the brief
            label = param.name.replace("_", " ")
            if param.name in template:
                continue
            if match := re.search(rf"\b{re.escape(label)}:\s*(?P<v>-?\d+(?:\.\d+)?)", own):
                changed[param.name] = float(match["v"])
        try:
            return apply_parameters(previous_code, changed)
        except ParameterError:
            pass  # a parameter the edited program lacks: the conversation said it can't carry the edits over
    return render_code(spec)


def _code_blocks(text: str) -> list[str]:
    return [extract_code(block) for block in _CODE_BLOCK.findall(text)]


def _chunks(text: str, pieces: int = 4) -> list[str]:
    """Split a reply into a few streamed deltas at line or word boundaries."""
    size = max(1, len(text) // pieces)
    chunks, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        while end < len(text) and not text[end - 1].isspace():
            end += 1
        chunks.append(text[start:end])
        start = end
    return chunks


def _words(text: str) -> int:
    return len(text.split())

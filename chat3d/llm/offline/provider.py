"""The offline provider: rule-based conversation plus parametric templates, no network.

It answers through the same `LLMProvider.complete` interface as real models so the whole
pipeline (tool calls, streaming, code extraction, iteration) runs without an API key.
"""

from __future__ import annotations

import re

from chat3d.llm.base import Completion, LLMProvider, Message, TextCallback, ToolCall, ToolSpec, Usage, emit
from chat3d.llm.codeblock import extract_code
from chat3d.llm.offline import imported as imp
from chat3d.llm.offline.families import PLATE, render_code, spec_from_code
from chat3d.llm.offline.spec import (
    PartSpec,
    apply_change,
    describe,
    detect_family,
    has_dimensions,
    parse_part,
    stated_values,
)
from chat3d.llm.tools import CREATE_3D_MODEL

CONVERSATION_MODEL = "offline-conversation"
CODEGEN_MODEL = "offline-templates"
FAMILY_EXAMPLES = "plate or box with holes, cylinder or tube, flange, L-bracket, spur gear, enclosure, knob, tray with dividers, vase, or spring"

_CHANGE = re.compile(
    r"\b(?:make (?:it|the)|change|increase|decrease|reduce|add|remove|more|less|instead|set|without|no holes|"
    r"bigger|smaller|larger|thicker|thinner|taller|shorter|longer|wider|narrower|deeper|twice|double|half)\b|%"
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|thanks|thank you|cheers)\b", re.I)
_QUESTION = re.compile(r"\?\s*$|^\s*(?:what|how|which|why|can|could|do|does|is|are|who|help)\b", re.I)
_FAILURE = re.compile(r"\b(?:error|failed|failure|exception|traceback|invalid)\b", re.I)
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)


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
        if model == CODEGEN_MODEL:
            text, tool_calls = f"```python\n{generate_code(messages)}```\n", []
        else:
            text, tool_calls = converse(messages, tools or [])
        for chunk in _chunks(text):
            await emit(on_text, chunk)
        usage = Usage(_words(system) + sum(_words(m.content) for m in messages), _words(text))
        return Completion(text, tool_calls, usage, model, "tool_calls" if tool_calls else "stop")


# --- conversation -----------------------------------------------------------------------------


def converse(messages: list[Message], tools: list[ToolSpec]) -> tuple[str, list[ToolCall]]:
    """Reply text and tool calls for the latest turn: model a part, update it, or talk."""
    last = messages[-1] if messages else Message("user", "")
    if last.role == "tool":
        if (name := _latest_import(messages)) is not None and not _FAILURE.search(last.content):
            return f'Your edited part (imported from {name}) is ready. Ask for another change like "add a 6 mm hole".', []
        return _after_tool(last.content, _latest_spec(messages)), []
    request = last.content
    on_import = _latest_import(messages[:-1])
    if on_import is not None and (imp.parse_change(request) or detect_family(request) is None):
        return _converse_imported(request, on_import, messages, tools)
    spec, intro = _requested_spec(request, _latest_spec(messages[:-1]))
    if spec is None:
        if _GREETING.search(request):
            return f"Hello! Describe a part and I'll model it — for example a {FAMILY_EXAMPLES}, with its main dimensions.", []
        if _QUESTION.search(request):
            return (
                "I'm the offline template assistant: I can build a "
                f"{FAMILY_EXAMPLES}, from dimensions in mm or inches, and then change them on request "
                "(\"make it 10 mm thicker\", \"add 2 holes\"). Connect an API key or Ollama for free-form parts."
            ), []
        return (
            "What kind of part should I make, and how big? For example: a plate, bracket, gear, enclosure, tray, "
            'knob, vase, spring, flange or tube — with main dimensions like "80 x 50 x 5 mm with four 4 mm holes".'
        ), []
    brief = describe(spec)
    bbox = spec.family.bbox(spec.params)
    arguments = {"brief": brief, "expected_bbox_mm": bbox if None not in bbox else None, "units": "mm"}
    if not any(t.name == CREATE_3D_MODEL.name for t in tools):
        return f"{intro}\n\n{brief}", []
    call_number = sum(len(m.tool_calls) for m in messages) + 1
    return intro, [ToolCall(f"offline_call_{call_number}", CREATE_3D_MODEL.name, arguments)]


def _requested_spec(request: str, previous: PartSpec | None) -> tuple[PartSpec | None, str]:
    """The part this turn asks for (a change to the previous part, or a new one) and a sentence saying so."""
    family = detect_family(request)
    changing = previous is not None and (family is None or family is previous.family)
    if changing and (_CHANGE.search(request.lower()) or stated_values(previous.family, request)):
        spec = apply_change(previous, request)
        changed = [
            f"{p.label} {previous.params[p.name]:g} → {spec.params[p.name]:g}"
            for p in spec.family.params
            if spec.params[p.name] != previous.params[p.name]
        ]
        what = ", ".join(changed) if changed else "nothing I could identify, so I'm rebuilding it as it was"
        return spec, f"Updating the {spec.family.title.lower()} — changed: {what}."
    if family is None and not has_dimensions(request):
        return None, ""
    spec = parse_part(request, family or PLATE)
    assumed = [
        f"{p.label} {spec.params[p.name]:g}{'' if p.count else ' ' + p.unit}"
        for p in spec.family.params
        if p.name not in stated_values(spec.family, request)
    ]
    intro = f"I'll model a {spec.family.title.lower()}: {describe(spec).split(' — ', 1)[1]}"
    return spec, intro + (f" I assumed {', '.join(assumed)}; tell me if any should differ." if assumed else "")


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


def _converse_imported(request: str, name: str, messages: list[Message], tools: list[ToolSpec]) -> tuple[str, list[ToolCall]]:
    """A change to an imported part: the few the templates can make, or an honest answer."""
    change = imp.parse_change(request)
    if change is None:
        if _GREETING.search(request) or _QUESTION.search(request) or not _CHANGE.search(request.lower()):
            return (f"This chat works on your imported file {name}. Offline I can {imp.SUPPORTED}; "
                    "connect an API key or Ollama for other changes to an imported part."), []
        return (f"I can't make that change to the imported part {name} with the offline templates: I can only "
                f"{imp.SUPPORTED}. Connect an API key or Ollama for free-form edits."), []
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
    part = spec.family.title.lower() if spec else "part"
    return f'Your {part} is ready. Ask for changes like "make it 10 mm thicker" or "add 2 holes".'


# --- code generation --------------------------------------------------------------------------


def generate_code(messages: list[Message]) -> str:
    """A template program for the latest request, editing the previous program when there is one."""
    user_turns = [m.content for m in messages if m.role == "user"]
    request = _CODE_BLOCK.sub("", user_turns[-1] if user_turns else "")
    imported_code = next((code for m in reversed(messages) for code in reversed(_code_blocks(m.content))
                          if imp.is_imported_program(code)), None)
    latest_code = next((code for m in reversed(messages) for code in reversed(_code_blocks(m.content)) if code.strip()), "")
    if _FAILURE.search(request) and "Design brief:" not in request and imp.is_imported_program(latest_code):
        return imp.base_program(latest_code)  # a repair: fall back to the imported part as it was loaded
    if imported_code is not None and imp.MARKER.search(request.split("Design brief:", 1)[-1].strip()):
        change = imp.parse_change(request.split("Previous program:", 1)[0])
        return imp.apply_change(imported_code, change) if change else imported_code
    previous = next(
        (spec for m in reversed(messages) for code in reversed(_code_blocks(m.content)) if (spec := spec_from_code(code))),
        None,
    )
    family = detect_family(request)
    if previous is None or (family is not None and family is not previous.family):
        spec = parse_part(request, family or PLATE)
    elif _FAILURE.search(request):  # a repair request: the templates are known-good, so rebuild as is
        spec = previous
    else:
        spec = apply_change(previous, request)
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

"""The offline provider: briefs from requests, template code that renders to the requested size,
clarifying questions, and iteration on the previous part."""

from __future__ import annotations

import asyncio
import math

import pytest

from chat3d.domain.parameters import extract_parameters
from chat3d.llm.base import Message, ToolCall
from chat3d.llm.codeblock import extract_code
from chat3d.llm.offline import CODEGEN_MODEL, CONVERSATION_MODEL, OfflineProvider
from chat3d.llm.offline.families import FAMILIES, PLATE, hand_edited, render_code, spec_from_code
from chat3d.llm.offline.model import Family, PartSpec, complete_spec
from chat3d.llm.offline.spec import describe, parse_part
from chat3d.llm.tools import CREATE_3D_MODEL

PROVIDER = OfflineProvider()

# (request, expected bbox [x, y, z] in mm; None where the prompt does not fix it)
FAMILY_CASES = [
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", [80, 50, 5]),
    ('a plate 3" x 2" x 0.25" with four 0.25 in holes', [76.2, 50.8, 6.35]),
    ("a 20 mm cube", [20, 20, 20]),
    ("a tube 30 mm OD, 24 mm ID, 50 mm long", [30, 30, 50]),
    ("a cylinder, diameter 30, height 40", [30, 30, 40]),
    ("a flange 120 mm diameter, 12 mm thick, 8 bolt holes of 10 mm on a 90 mm bolt circle, 40 mm bore", [120, 120, 12]),
    ("an L-bracket 60 x 40 x 50 mm, 4 mm thick, with 5 mm holes", [60, 40, 50]),
    ("a spur gear with 24 teeth, module 1.5, 6 mm thick, 8 mm bore", [39, None, 6]),
    ("an enclosure 120 x 80 x 40 mm with 2.5 mm walls", [120, 80, 40]),
    ("a knob 35 mm diameter, 22 mm tall, for a 6 mm shaft, 16 grooves", [35, None, 22]),
    ("a tray 200 x 120 x 30 mm with 4 compartments", [200, 120, 30]),
    ("a vase 180 mm tall, 100 mm diameter, wall 2 mm", [None, None, 180]),
    ("a spring 20 mm diameter, 2 mm wire, 8 turns, pitch 5", [20, 20, None]),
]
ITERATIONS = [
    # (first request, follow-up, expected bbox after the change, expected count of hole faces)
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "make it 10 mm thicker", [80, 50, 15], 4),
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "add 2 holes", [80, 50, 5], 6),
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "make the length 120 mm", [120, 50, 5], 4),
    ("an enclosure 120 x 80 x 40 mm with 2.5 mm walls", "make it 20 mm taller", [120, 80, 60], 0),
]


async def ask(model: str, messages: list[Message], **kwargs):
    return await PROVIDER.complete(model=model, system="", messages=messages, **kwargs)


async def brief_for(request: str) -> dict:
    completion = await ask(CONVERSATION_MODEL, [Message("user", request)], tools=[CREATE_3D_MODEL])
    assert [c.name for c in completion.tool_calls] == ["create_3d_model"], completion.text
    return completion.tool_calls[0].arguments


async def code_for(messages: list[Message]) -> str:
    return extract_code((await ask(CODEGEN_MODEL, messages)).text)


async def _build_all() -> tuple[list[dict], list[str], list[str]]:
    briefs = [await brief_for(request) for request, _ in FAMILY_CASES]
    codes = [await code_for([Message("user", b["brief"])]) for b in briefs]
    changed = []
    for first, follow_up, _, _ in ITERATIONS:
        code = await code_for([Message("user", first)])
        history = [Message("user", first), Message("assistant", f"```python\n{code}```"), Message("user", follow_up)]
        changed.append(await code_for(history))
    return briefs, codes, changed


@pytest.fixture(scope="module")
def built(render):
    """Every brief and program, rendered in one batch across the worker pool."""
    briefs, codes, changed = asyncio.run(_build_all())
    results = render(codes + changed)
    return briefs, codes, results[: len(codes)], results[len(codes) :]


def assert_size(result: dict, expected: list, tolerance: float = 0.1) -> None:
    assert result["ok"], result.get("error")
    assert result["valid"] and result["volume"] > 0 and result["solids"] == 1
    for axis, (got, want) in enumerate(zip(result["size"], expected)):
        if want is not None:
            assert abs(got - want) <= tolerance, f"axis {'XYZ'[axis]}: {got} != {want}"


@pytest.mark.parametrize("case", range(len(FAMILY_CASES)), ids=[r for r, _ in FAMILY_CASES])
def test_each_family_renders_at_the_requested_size(built, case):
    briefs, codes, results, _ = built
    expected = FAMILY_CASES[case][1]
    assert_size(results[case], expected)
    stated = briefs[case]["expected_bbox_mm"]
    if None not in expected:
        assert stated == pytest.approx(expected, abs=0.01)
    assert "result" in codes[case]


def test_reference_plate_has_four_through_holes_of_4_mm(built):
    _, codes, results, _ = built
    plate = results[0]
    assert plate["size"] == pytest.approx([80, 50, 5], abs=1e-6)
    assert plate["cylinder_radii"] == [2.0] * 4
    assert plate["volume"] == pytest.approx(80 * 50 * 5 - 4 * math.pi * 2**2 * 5, rel=1e-6)
    assert "length = 80.0  # mm," in codes[0] and "hole_count = 4  # count," in codes[0]


def test_approximate_extents_of_smooth_parts(built):
    _, _, results, _ = built
    vase, spring = results[11], results[12]
    assert vase["size"][0] == pytest.approx(100, rel=0.02)
    assert spring["size"][2] == pytest.approx(8 * 5 + 2, abs=0.5)


def test_flange_and_tube_holes(built):
    _, _, results, _ = built
    tube, flange = results[3], results[5]
    assert tube["cylinder_radii"] == [12.0, 15.0]
    assert flange["cylinder_radii"] == [5.0] * 8 + [20.0, 60.0]


@pytest.mark.parametrize("case", range(len(ITERATIONS)), ids=[f"{a} -> {b}" for a, b, _, _ in ITERATIONS])
def test_iteration_changes_the_previous_program(built, case):
    _, _, _, changed = built
    _, _, expected, holes = ITERATIONS[case]
    assert_size(changed[case], expected)
    assert len(changed[case]["cylinder_radii"]) == holes


def test_every_template_parameter_is_named_and_commented(built):
    _, codes, _, _ = built
    for code in codes:
        header = [line for line in code.splitlines() if " = " in line and "  # " in line]
        assert header, code
        assert all(line.split(" = ")[0].isidentifier() for line in header)


async def test_vague_request_gets_a_clarifying_question():
    completion = await ask(CONVERSATION_MODEL, [Message("user", "make me a part")], tools=[CREATE_3D_MODEL])
    assert completion.tool_calls == []
    assert "?" in completion.text and completion.finish_reason == "stop"


@pytest.mark.parametrize("text", ["hello!", "what can you do?"])
async def test_greetings_and_questions_get_text(text):
    completion = await ask(CONVERSATION_MODEL, [Message("user", text)], tools=[CREATE_3D_MODEL])
    assert completion.tool_calls == [] and completion.text


async def test_conversation_iterates_on_the_previous_brief():
    first = await ask(CONVERSATION_MODEL, [Message("user", "a 80 x 50 x 5 mm plate with four 4 mm holes")], tools=[CREATE_3D_MODEL])
    history = [
        Message("user", "a 80 x 50 x 5 mm plate with four 4 mm holes"),
        Message("assistant", first.text, tool_calls=first.tool_calls),
        Message("tool", "rendered", tool_call_id=first.tool_calls[0].id),
        Message("user", "make it 10 mm thicker and add 2 holes"),
    ]

    second = await ask(CONVERSATION_MODEL, history, tools=[CREATE_3D_MODEL])

    arguments = second.tool_calls[0].arguments
    assert arguments["expected_bbox_mm"] == [80, 50, 15]
    assert "thickness: 15 mm" in arguments["brief"] and "hole count: 6" in arguments["brief"]
    assert second.tool_calls[0].id != first.tool_calls[0].id


async def test_reply_after_a_tool_result_reports_success_or_failure():
    call = ToolCall("c1", "create_3d_model", {"brief": "Plate/block — length: 10 mm.", "expected_bbox_mm": None, "units": "mm"})
    history = [Message("user", "a plate"), Message("assistant", "", tool_calls=[call])]

    ok = await ask(CONVERSATION_MODEL, history + [Message("tool", "rendered", tool_call_id="c1")], tools=[CREATE_3D_MODEL])
    failed = await ask(CONVERSATION_MODEL, history + [Message("tool", "error: boolean failed", tool_call_id="c1")], tools=[CREATE_3D_MODEL])

    assert "ready" in ok.text and ok.tool_calls == []
    assert "didn't build" in failed.text


async def test_codegen_reads_the_previous_program_from_a_single_prompt():
    code = await code_for([Message("user", "a 80 x 50 x 5 mm plate with four 4 mm holes")])
    prompt = f"Current program:\n```python\n{code}```\nChange: make the width 60 mm and use 3 mm holes."

    changed = await code_for([Message("user", prompt)])

    assert "width = 60.0" in changed and "hole_diameter = 3.0" in changed and "length = 80.0" in changed


async def test_codegen_repair_request_returns_the_program_unchanged():
    code = await code_for([Message("user", "a knob 30 mm diameter")])
    repair = f"The program failed with error: ValueError at line 12\n```python\n{code}```"
    assert await code_for([Message("user", repair)]) == code


async def test_streams_in_chunks_and_counts_words():
    chunks: list[str] = []
    completion = await ask(CODEGEN_MODEL, [Message("user", "a spur gear with 30 teeth")], on_text=chunks.append)

    assert 2 <= len(chunks) <= 8 and "".join(chunks) == completion.text
    assert completion.text.startswith("```python\n") and completion.text.rstrip().endswith("```")
    assert completion.usage.input_tokens == 6 and completion.usage.output_tokens == len(completion.text.split())
    assert completion.model == CODEGEN_MODEL


async def test_is_deterministic():
    messages = [Message("user", "a tray 150 x 100 x 25 mm with 3 x 2 compartments")]
    assert (await ask(CODEGEN_MODEL, messages)).text == (await ask(CODEGEN_MODEL, messages)).text


async def test_without_the_tool_the_brief_is_returned_as_text():
    completion = await ask(CONVERSATION_MODEL, [Message("user", "a 40 x 30 x 20 block")])
    assert completion.tool_calls == [] and "length: 40 mm" in completion.text


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("Here you go:\n```python\nresult = 1\n```\nEnjoy.", "result = 1\n"),
        ("```\nx = 2\n```", "x = 2\n"),
        ("```bash\npip install x\n```\n```python\nresult = 3\n```", "result = 3\n"),
        ("```python\nresult = 4\n# truncated", "result = 4\n# truncated\n"),
        ("result = 5", "result = 5\n"),
    ],
)
def test_extract_code(reply, code):
    assert extract_code(reply) == code


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("a 2 inch diameter knob", {"diameter": 50.8}),
        ("bracket 3 x 2 x 2 in, 1/8 in thick", {"length": 76.2, "width": 50.8, "height": 50.8, "thickness": 3.175}),
        ("a tube 40 in length", {"height": 40.0}),
        ("rod 1-1/2 inch diameter, 6 in long", {"outer_diameter": 38.1, "height": 152.4, "inner_diameter": 0}),
        ("a 44 mm gear with 20 teeth", {"teeth": 20, "module": 2.0}),
        ("a tray 150 x 100 x 25 mm with 3 x 2 compartments", {"compartments_x": 3, "compartments_y": 2}),
        ("a pipe 40 mm diameter, wall 2 mm, 100 mm long", {"outer_diameter": 40, "inner_diameter": 36, "height": 100}),
        ("a 100mm x 60mm x 3mm plate with 6 holes", {"length": 100, "width": 60, "thickness": 3, "hole_count": 6}),
        # issue 26: placements are not sizes, and bolt circles, "N x D mm holes" and M sizes are read as such
        ("an 80x40x3 mm plate with 2 holes 60 mm apart", {"hole_count": 2, "hole_diameter": 4}),
        ("a plate 80 x 50 x 5 with holes 5 mm from the edge", {"length": 80, "width": 50, "thickness": 5, "hole_diameter": 4}),
        ("flange: 100 mm diameter, 4 x 6 mm holes on 80 mm bolt circle",
         {"outer_diameter": 100, "bolt_count": 4, "bolt_hole_diameter": 6, "bolt_circle_diameter": 80}),
        ("a 120 mm flange, 80 mm bolt-circle, six M8 holes",
         {"outer_diameter": 120, "bolt_count": 6, "bolt_hole_diameter": 9, "bolt_circle_diameter": 80}),
        ("a flange, 6 holes at 80 mm PCD", {"bolt_count": 6, "bolt_hole_diameter": 8, "bolt_circle_diameter": 80}),
        ("an enclosure 100 x 70 x 30 mm, mounting holes 58 x 49 mm pattern", {"length": 100, "width": 70, "height": 30}),
        ("an enclosure with mounting holes on a 58 x 49 mm pattern", {"length": 100, "width": 60}),
        ("an L-bracket 60 x 40 x 50 mm angled back 70 degrees", {"angle": 70}),
        ("a box 100 x 60 x 40 mm with a lid", {"length": 100, "lid": 1}),
    ],
)
def test_reads_dimensions_units_and_counts(request_text, expected):
    spec = parse_part(request_text)
    assert {name: spec.params[name] for name in expected} == pytest.approx(expected)
    assert parse_part(describe(spec)).params == spec.params  # the brief reads back to the same part


# --- issue 26: every value read is honoured, and everything not modelled is said -------------------------

HONOURED = [
    # (request, what the geometry must show)
    "a 30 mm cube with 2 mm fillets on every edge",
    "a flange 120 mm diameter, 12 mm thick, six M8 holes, bolt circle dia 80 mm, 30 mm bore",
    "an enclosure 100 x 70 x 30 mm with mounting holes, 58 x 49 mm pattern",
    "an L-bracket 60 x 40 x 50 mm, 5 mm thick, angled back 70 degrees",
    "a box 100 x 60 x 40 mm with 2 mm walls and a lid",
    "a plate 100 x 60 x 4 mm with 10 mm rounded corners",
]


async def _offline(request: str, history: list[Message] | None = None, system: str = "") -> tuple[str, list[ToolCall], str | None]:
    """Reply, tool calls and (when it modelled something) the program, as the pipeline would get them."""
    completion = await PROVIDER.complete(model=CONVERSATION_MODEL, system=system,
                                         messages=[*(history or []), Message("user", request)], tools=[CREATE_3D_MODEL])
    if not completion.tool_calls:
        return completion.text, [], None
    brief = completion.tool_calls[0].arguments["brief"]
    return completion.text, completion.tool_calls, await code_for([Message("user", f"Design brief:\n{brief}")])


@pytest.fixture(scope="module")
def honoured(render):
    replies = [asyncio.run(_offline(request)) for request in HONOURED]
    return replies, render([code for _, _, code in replies])


def rounded_box_volume(a: float, b: float, c: float, r: float) -> float:
    """A box with every edge filleted: the inner box grown by a sphere of radius r."""
    a, b, c = a - 2 * r, b - 2 * r, c - 2 * r
    return a * b * c + 2 * r * (a * b + b * c + a * c) + math.pi * r**2 * (a + b + c) + 4 / 3 * math.pi * r**3


def test_fillets_on_every_edge_are_modelled(honoured):
    (text, _, _), result = honoured[0][0], honoured[1][0]
    assert_size(result, [30, 30, 30], 1e-6)
    assert result["volume"] == pytest.approx(rounded_box_volume(30, 30, 30, 2), rel=1e-4)
    assert result["volume"] < 30**3 - 100  # not the sharp cube
    assert "Not modelled" not in text


def test_bolt_circle_stays_as_stated(honoured):
    (text, _, _), result = honoured[0][1], honoured[1][1]
    assert_size(result, [120, 120, 12])
    # six M8 clearance holes (9 mm) on the 80 mm circle (it was 75 mm, and eight 8 mm holes, before)
    assert [tuple(c) for c in result["cylinders"]] == [(4.5, 40.0)] * 6 + [(15.0, 0.0), (60.0, 0.0)]
    assert "assumed" not in text or "bolt circle" not in text.split("assumed", 1)[1]


def test_a_hole_pattern_is_never_the_overall_size(honoured):
    (text, _, _), result = honoured[0][2], honoured[1][2]
    assert_size(result, [100, 70, 30])
    assert "Not modelled" in text and "58 x 49 mm pattern" in text


def test_an_angled_bracket_leans_back_by_the_stated_angle(honoured):
    (text, calls, _), result = honoured[0][3], honoured[1][3]
    lean = math.radians(90 - 70)
    assert result["ok"] and result["valid"] and result["solids"] == 1
    # the upright (50 mm long, 5 mm thick) turns about the base's back edge: its top goes back by 50 sin 20°
    assert result["size"] == pytest.approx([60 + 50 * math.sin(lean), 40, 50 * math.cos(lean) + 5 * math.sin(lean)], abs=0.01)
    assert "angle: 70" in calls[0].arguments["brief"] and "Not modelled" not in text


def test_with_a_lid_gives_a_lid(honoured):
    (text, calls, _), result = honoured[0][4], honoured[1][4]
    assert result["ok"] and result["valid"] and result["solids"] == 2
    assert result["size"] == pytest.approx([100, 130, 40], abs=0.01)  # box and lid side by side, 10 mm apart
    box = 100 * 60 * 40 - 96 * 56 * 38
    rim = 95.4 * 55.4 * 4 - 91.4 * 51.4 * 4
    assert result["volume"] == pytest.approx(box + 100 * 60 * 2 + rim, rel=1e-4)
    assert calls[0].arguments["expected_bbox_mm"] == [100, 130, 40] and "Not modelled" not in text


def test_rounded_corners(honoured):
    result = honoured[1][5]
    assert_size(result, [100, 60, 4])
    assert result["volume"] == pytest.approx((100 * 60 - (4 - math.pi) * 10**2) * 4, rel=1e-5)


async def test_add_a_lid_changes_the_enclosure_and_a_plate_says_it_cannot(render):
    first = await ask(CONVERSATION_MODEL, [Message("user", "an enclosure 100 x 60 x 40 mm")], tools=[CREATE_3D_MODEL])
    history = [Message("user", "an enclosure 100 x 60 x 40 mm"), Message("assistant", first.text, tool_calls=first.tool_calls),
               Message("tool", "rendered", tool_call_id=first.tool_calls[0].id)]
    text, calls, code = await _offline("add a lid", history)
    assert "lid 0 → 1" in text
    assert render([code])[0]["solids"] == 2

    plate = await ask(CONVERSATION_MODEL, [Message("user", "a 80 x 50 x 5 mm plate")], tools=[CREATE_3D_MODEL])
    history = [Message("user", "a 80 x 50 x 5 mm plate"), Message("assistant", plate.text, tool_calls=plate.tool_calls),
               Message("tool", "rendered", tool_call_id=plate.tool_calls[0].id)]
    text, calls, _ = await _offline("add a lid", history)
    assert calls == []  # no identical version is saved
    assert "a lid" in text and "Nothing was changed or saved" in text


@pytest.mark.parametrize(("request_text", "missing"), [
    ("an 80 x 50 x 5 mm plate with four 4 mm holes and a 3 mm chamfer", ["3 mm chamfer"]),
    ("an enclosure 120 x 80 x 40 mm with vents and a hinge", ["vents", "hinges"]),
    ("a cup 80 mm diameter, 95 mm tall, with a handle and engraved text", ["a handle", "text or engraving"]),
    ("a flange 2000 mm diameter", ["outer diameter 2000 mm (the template allows 10–1000 mm)"]),
])
async def test_the_reply_lists_what_was_not_modelled(request_text, missing):
    text, calls, _ = await _offline(request_text)
    assert calls, text
    listed = text.split("Not modelled (the offline templates can't): ", 1)[1]
    assert all(item in listed for item in missing), listed


def test_every_example_chip_is_modelled_offline():
    """The chips under an empty chat are what the default (offline) model does in full."""
    from chat3d.llm.offline.nearest import NEAREST
    from chat3d.state.chat_view import EXAMPLE_PROMPTS

    for request in [*EXAMPLE_PROMPTS, *(example for _, _, example in NEAREST)]:
        text, calls, _ = asyncio.run(_offline(request))
        assert calls, (request, text)
        assert "Not modelled" not in text and "template allows" not in text, (request, text)


@pytest.mark.parametrize(("request_text", "expected"), [
    ("a phone stand", "L-bracket"),
    ("a coffee mug with a handle, 80 mm diameter, 95 mm tall", "cup"),
    ("a dragon figurine", "Which of these is closest"),
])
async def test_outside_the_templates_offers_the_nearest_one(request_text, expected):
    text, calls, _ = await _offline(request_text)
    assert calls == [] and expected in text
    assert "plates and blocks" in text and "[Set up a model](/admin)" in text


async def test_a_picture_needs_a_vision_model():
    text, calls, _ = await _offline("make this\n\n[The user attached 1 image(s), which this model cannot see.]")
    assert calls == [] and "vision model" in text and "[Set up a model](/admin)" in text


# --- issue 26: a follow-up starts from the current version's program ------------------------------------


def _system_with(program: str) -> str:
    from chat3d.pipeline.prompting import conversation_system

    return conversation_system("mm", program)


async def test_a_follow_up_starts_from_the_programs_values_not_the_old_brief(render):
    """Slider values kept (100 x 70) and a hand-added centre hole survive "make the corner holes 6 mm"."""
    first = "a 96 x 60 x 5 mm plate with four 4.8 mm holes"
    original = await code_for([Message("user", first)])
    from chat3d.domain.parameters import apply_parameters

    edited = apply_parameters(original, {"length": 100, "width": 70}).replace(
        "\nresult = part.part", "\n    with Locations((0, 0)):\n        Hole(5)\n\nresult = part.part")
    call = ToolCall("c1", "create_3d_model", {"brief": describe(parse_part(first))})
    history = [Message("user", first), Message("assistant", "", tool_calls=[call]), Message("tool", "rendered", tool_call_id="c1")]

    text, calls, _ = await _offline("make the corner holes 6 mm", history, system=_system_with(edited))
    brief = calls[0].arguments["brief"]
    assert "length: 100 mm" in brief and "width: 70 mm" in brief and "hole diameter: 6 mm" in brief
    assert "hole diameter 4.8 → 6" in text and "your hand edits included, is kept" in text
    from chat3d.pipeline.prompting import codegen_request

    code = await code_for([Message("user", codegen_request(brief, calls[0].arguments["expected_bbox_mm"], edited))])
    assert "Hole(5)" in code  # the hand edit is carried over
    before, after = render([edited, code])
    assert after["size"] == pytest.approx([100, 70, 5], abs=1e-6)
    assert after["volume"] == pytest.approx(100 * 70 * 5 - 4 * math.pi * 3**2 * 5 - math.pi * 5**2 * 5, rel=1e-6)
    assert before["volume"] > after["volume"]


async def test_a_hand_edit_that_cannot_be_carried_is_said_and_nothing_is_modelled():
    original = await code_for([Message("user", "a 80 x 50 x 5 mm plate")])
    # edited by hand and without the template's edge_fillet parameter: "round every edge" cannot be carried
    edited = "\n".join(line for line in original.splitlines() if not line.startswith("edge_fillet")) \
        .replace("edge_fillet", "0.0")
    text, calls, _ = await _offline("add 2 mm fillets on every edge", system=_system_with(edited))
    assert calls == [] and "edited by hand" in text and "nothing was changed or saved" in text


def _spread(family: Family) -> PartSpec:
    """Every parameter away from its default, at a value with decimals (counts rounded)."""
    n = len(family.params) + 2
    return complete_spec(family, {p.name: p.lo + (p.hi - p.lo) * (i + 1) / n for i, p in enumerate(family.params)})


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_a_template_program_reads_back_to_its_values(family):
    """The offline provider reads a program's parameter block with the sliders' parser (the AST one) and gets
    back the values its template wrote: defaults, every parameter at its lower or upper bound, or in between."""
    specs = [complete_spec(family, {}), _spread(family),
             complete_spec(family, {p.name: p.lo for p in family.params}),
             complete_spec(family, {p.name: p.hi for p in family.params})]
    for spec in specs:
        code = render_code(spec)
        read = spec_from_code(code)
        assert read is not None and read.family is family and read.params == spec.params
        assert not hand_edited(code, spec)
        assert {p.name: p.value for p in extract_parameters(code)} == spec.params


def test_parameter_lines_rewritten_by_hand_are_read_as_the_sliders_read_them():
    code = render_code(complete_spec(PLATE, {"length": 96, "hole_count": 4}))
    # an int literal, other spacing and a dropped comment change how the line looks, not the part
    edited = (code.replace("length = 96.0  # mm", "length  =  120  # mm")
              .replace("hole_count = 4  # count, through holes; 4 sit at the corners, odd counts on the centre line [0..48]",
                       "hole_count = 6"))
    assert edited.count("\n") == code.count("\n") and "hole_count = 6\n" in edited
    spec = spec_from_code(edited)
    assert spec.params["length"] == 120 and spec.params["hole_count"] == 6 and spec.params["width"] == 50
    assert not hand_edited(edited, spec)
    # a parameter turned into an expression is a hand edit: the template does not know its value
    derived = code.replace("width = 50.0  #", "width = length / 2  #")
    spec = spec_from_code(derived)
    assert "width = length / 2" in derived and hand_edited(derived, spec)
    assert spec_from_code(code + "\nresult = (\n") is None  # not Python: no template program to read


async def test_a_parameter_made_an_expression_by_hand_survives_a_follow_up():
    from chat3d.pipeline.prompting import codegen_request

    edited = render_code(complete_spec(PLATE, {"hole_count": 4})).replace("width = 50.0  #", "width = length / 2  #")
    text, calls, _ = await _offline("make it 10 mm thicker", system=_system_with(edited))
    assert "thickness 5 → 15" in text and "your hand edits included, is kept" in text
    brief = calls[0].arguments["brief"]
    code = await code_for([Message("user", codegen_request(brief, calls[0].arguments["expected_bbox_mm"], edited))])
    assert "width = length / 2" in code and "thickness = 15.0" in code


async def test_a_program_from_another_model_is_not_replaced_silently():
    text, calls, _ = await _offline("make it 10 mm thicker", system=_system_with("from build123d import *\nresult = Box(10, 20, 30)\n"))
    assert calls == [] and "wasn't written by the offline templates" in text


FOLLOW_UPS = [
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "make it 10 mm thicker", "thickness 5 → 15"),
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "20% smaller", "length 80 → 64"),
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "round all edges 1 mm", "edge fillet 0 → 1"),
    ("a 80 x 50 x 5 mm plate with four 4 mm holes", "use M6 holes", "hole diameter 4 → 6.6"),
    ("an enclosure 100 x 60 x 40 mm", "with a lid please", "lid 0 → 1"),
    ("an enclosure 100 x 60 x 40 mm", "make it 20 mm taller", "height 40 → 60"),
    ("an L-bracket 60 x 40 x 50 mm", "angle it back to 75 degrees", "angle 90 → 75"),
    ("a flange 100 mm diameter", "make the bolt circle 80 mm", "bolt circle diameter 65 → 80"),
]


@pytest.mark.parametrize(("first", "follow_up", "change"), FOLLOW_UPS, ids=[f for _, f, _ in FOLLOW_UPS])
async def test_follow_ups_say_what_changed_and_nothing_else(first, follow_up, change):
    first_reply = await ask(CONVERSATION_MODEL, [Message("user", first)], tools=[CREATE_3D_MODEL])
    history = [Message("user", first), Message("assistant", first_reply.text, tool_calls=first_reply.tool_calls),
               Message("tool", "rendered", tool_call_id=first_reply.tool_calls[0].id)]
    text, calls, _ = await _offline(follow_up, history)
    assert calls and f"changed: {change}" in text and "Not modelled" not in text, text

"""Prompt files load, templates fill, and every code example in them renders."""

from __future__ import annotations

import re

import pytest

from chat3d.llm.prompts import PROMPTS_DIR, load_prompt

EXAMPLES = [
    (path.stem, index, code)
    for path in sorted(PROMPTS_DIR.glob("*.md"))
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S))
    if "{code}" not in code
]


def test_system_prompts_load():
    assert "create_3d_model" in load_prompt("conversation_system")
    assert "result" in load_prompt("codegen_system")


def test_repair_template_fills_placeholders_and_keeps_code_braces():
    code = 'sizes = {"a": 1}\nresult = Box(1, 1, 1)'
    text = load_prompt("repair", kind="runtime", message="NameError: name 'Bx' is not defined", line=7, code=code)
    assert "Error kind: runtime" in text and "Line: 7" in text and code in text
    assert not re.search(r"\{(kind|message|line|code)\}", text)


def test_unknown_prompt():
    with pytest.raises(FileNotFoundError, match="available"):
        load_prompt("nope")


def test_codegen_prompt_has_the_required_examples():
    assert len([e for e in EXAMPLES if e[0] == "codegen_system"]) >= 7
    text = load_prompt("codegen_system")
    for feature in ("GridLocations", "Locations", "fillet(", "revolve(", "extrude(", "loft(", "sweep(", "mirror("):
        assert feature in text


def test_every_prompt_example_renders(render):
    results = render([code for _, _, code in EXAMPLES])
    for (name, index, code), result in zip(EXAMPLES, results):
        assert result["ok"], f"{name} example {index}: {result.get('error')}"
        assert result["valid"] and result["volume"] > 0, f"{name} example {index}"
        assert re.search(r"^\w+ = [\d.]+  # ", code, re.M), f"{name} example {index} lacks named parameters"

"""System prompts and templates kept as Markdown files beside this module."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).parent


@cache
def _read(name: str) -> str:
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.md")))
        raise FileNotFoundError(f"No prompt named '{name}'; available: {available}.")
    return path.read_text(encoding="utf-8")


def load_prompt(name: str, **values: object) -> str:
    """The prompt `name` (file stem), with `{key}` placeholders filled from `values`.

    Plain replacement rather than str.format, because prompts contain Python code with braces.
    """
    text = _read(name)
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text

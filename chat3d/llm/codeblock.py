"""Pull the program out of a codegen model's reply, whichever provider wrote it."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str) -> str:
    """The last ```python block (else the last fenced block, else the whole reply).

    Models sometimes explain before or after the code, add a second illustrative block first,
    or run out of tokens before the closing fence; all of those still yield the program.
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    python = [body for lang, body in blocks if lang in ("python", "py", "python3")]
    chosen = python[-1] if python else blocks[-1][1] if blocks else text
    return chosen.strip("\n").rstrip() + "\n"

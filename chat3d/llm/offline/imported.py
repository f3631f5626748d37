"""Offline edits around an imported STEP/STL part.

The templates cannot understand an arbitrary imported shape, so this handles a small, honest set of
changes and says so for anything else: a through hole at the centre (along Z), a new overall size along
one axis (taller/shorter, longer, wider/narrower: a scale along that axis), and a uniform scale. Each
change is appended to the previous program as a few lines with a named parameter (so the sliders work),
and the line that loads the imported file stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"^\[imported: ([A-Za-z0-9_.-]+)\]")
LOADER = re.compile(r"^imported = (?:import_step|Mesher\(\)\.read)\(", re.M)
SUPPORTED = (
    'add a through hole ("add a 5 mm hole"), change the overall height, length or width '
    '("make it 10 mm taller", "20% wider") or scale it ("make it twice as big")'
)

_NUM = r"(\d+(?:\.\d+)?)"
_HOLE = re.compile(r"\bholes?\b", re.I)
_HOLE_D = re.compile(
    rf"{_NUM}\s*(?:mm)?\s*(?:diameter|dia\.?|ø|wide)?\s*(?:through[- ])?holes?\b|holes?\s+(?:of\s+)?(?:diameter\s+|ø\s*)?{_NUM}\s*mm",
    re.I,
)
_AXES = (
    (re.compile(r"\b(taller|higher)\b", re.I), 2, +1, "height"),
    (re.compile(r"\b(shorter|lower)\b", re.I), 2, -1, "height"),
    (re.compile(r"\blonger\b", re.I), 0, +1, "length"),
    (re.compile(r"\b(wider|broader)\b", re.I), 1, +1, "width"),
    (re.compile(r"\bnarrower\b", re.I), 1, -1, "width"),
)
_BY_MM = re.compile(rf"{_NUM}\s*mm\b", re.I)
_BY_PCT = re.compile(rf"{_NUM}\s*%")
_SCALE = re.compile(
    rf"\b(?:twice|double)\b|\bhalf\b|\bscale(?:d)?\s+(?:it\s+)?(?:by\s+)?{_NUM}|\b{_NUM}\s*(?:x|×|times)\s+(?:as\s+)?(?:big|large)",
    re.I,
)
_SIZE_WORD = re.compile(r"\b(bigger|larger|smaller)\b", re.I)


@dataclass(frozen=True)
class Change:
    kind: str  # hole | axis | scale
    value: float  # hole diameter (mm); axis: delta mm or pct; scale factor
    axis: int = 2
    sign: int = 1
    pct: bool = False
    label: str = ""

    def describe(self) -> str:
        if self.kind == "hole":
            return f"a {self.value:g} mm through hole at the centre (along Z)"
        if self.kind == "scale":
            return f"scaled by {self.value:g}×"
        amount = f"{self.value:g}%" if self.pct else f"{self.value:g} mm"
        return f"{self.label} {'+' if self.sign > 0 else '−'}{amount}"


def imported_name(brief: str) -> str | None:
    m = MARKER.match(brief.strip())
    return m.group(1) if m else None


def is_imported_program(code: str) -> bool:
    return bool(LOADER.search(code))


def parse_change(request: str) -> Change | None:
    """The one change this request asks for, or None when the offline templates cannot do it."""
    text = request.strip()
    if _HOLE.search(text) and re.search(r"\b(add|drill|cut|make|put|with|hole)\b", text, re.I):
        m = _HOLE_D.search(text)
        diameter = float(next(g for g in m.groups() if g)) if m else 5.0
        return Change("hole", diameter) if 0.1 <= diameter <= 1000 else None
    for pattern, axis, sign, label in _AXES:
        if pattern.search(text):
            if m := _BY_PCT.search(text):
                return Change("axis", float(m.group(1)), axis, sign, True, label)
            if m := _BY_MM.search(text):
                return Change("axis", float(m.group(1)), axis, sign, False, label)
            return Change("axis", 20.0, axis, sign, True, label)
    if m := _SCALE.search(text):
        word = m.group(0).lower()
        factor = (
            2.0 if word in ("twice", "double") else 0.5 if word == "half" else float(next(g for g in m.groups() if g))
        )
        return Change("scale", factor) if 0.01 <= factor <= 100 else None
    if m := _SIZE_WORD.search(text):
        pct = _BY_PCT.search(text)
        step = float(pct.group(1)) / 100 if pct else 0.2
        return Change("scale", round(1 + step if m.group(1).lower() != "smaller" else 1 - step, 4))
    return None


def _free_name(code: str, base: str) -> str:
    name, n = base, 1
    while re.search(rf"^{name}\s*=", code, re.M):
        n += 1
        name = f"{base}_{n}"
    return name


def apply_change(code: str, change: Change) -> str:
    """The previous program with the change appended as its last step (it still ends with `result`)."""
    code = code.rstrip() + "\n"
    bb = _free_name(code, "bb")
    if change.kind == "hole":
        p = _free_name(code, "hole_diameter")
        lines = [
            f"# Change: {change.describe()}",
            f"{p} = {float(change.value)!r}  # mm, through hole at the centre [0.5..500]",
            f"{bb} = result.bounding_box()",
            f"result = result - Pos({bb}.center().X, {bb}.center().Y, {bb}.center().Z) * Cylinder({p} / 2, {bb}.size.Z + 2)",
        ]
    elif change.kind == "scale":
        p = _free_name(code, "scale_factor")
        lines = [
            f"# Change: {change.describe()}",
            f"{p} = {float(change.value)!r}  # ratio, uniform scale [0.05..20]",
            f"result = scale(result, by={p})",
        ]
    else:
        axis = "XYZ"[change.axis]
        p = _free_name(code, f"{change.label}_change")
        unit = "%" if change.pct else "mm"
        signed = change.value * change.sign
        factor = f"(1 + {p} / 100)" if change.pct else f"(({bb}.size.{axis} + {p}) / {bb}.size.{axis})"
        by = ["1", "1", "1"]
        by[change.axis] = factor
        lines = [
            f"# Change: {change.describe()} (a scale along {axis})",
            f"{p} = {float(signed)!r}  # {unit}, change of the overall {change.label} [{-90 if change.pct else -500}..{500}]",
            f"{bb} = result.bounding_box()",
            f"result = scale(result, by=({', '.join(by)}))",
        ]
    return code + "\n" + "\n".join(lines) + "\n"


def base_program(code: str) -> str:
    """The imported program without any appended change (a safe rebuild after a failed render)."""
    head = code.split("\n# Change:", 1)[0].rstrip() + "\n"
    return head if "result = imported" in head else head + "\nresult = imported\n"

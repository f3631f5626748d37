"""The offline provider and selections (issue 27): a picked face stands for one of the template's parameters.

A face is tied to a parameter by measurement, not by name: a round face of diameter d is the parameter whose
value is d (hole, bore, outer diameter); a flat face square to x, y or z is the parameter equal to the part's
size along that axis (length, width, thickness or height). The user's words give the value ("8 mm",
"2 mm thicker", "20% smaller"); the change is then phrased as the templates read it ("set the thickness to 8 mm").
Anything else (an edge, a slanted or curved face, two parameters with the same value) is said, not guessed.
"""

from __future__ import annotations

import re

from chat3d.domain.selection import describe
from chat3d.llm.offline.model import PartSpec
from chat3d.llm.offline.spec import apply_change, format_number

_VALUE = re.compile(r"(?P<v>\d+(?:\.\d+)?)\s*(?P<u>mm|%|percent)?", re.I)
_MORE = re.compile(r"\b(thicker|bigger|larger|wider|longer|taller|deeper|more|increase|grow)\b", re.I)
_LESS = re.compile(r"\b(thinner|smaller|narrower|shorter|shallower|less|reduce|decrease|shrink)\b", re.I)


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= 0.02 + 0.005 * abs(b)


def _candidates(row: dict, spec: PartSpec) -> list:
    lengths = [p for p in spec.family.params if p.unit == "mm" and isinstance(spec.params.get(p.name), (int, float))]
    if row.get("type") == "cylinder" and row.get("radius"):
        d = 2 * float(row["radius"])
        return [p for p in lengths if "diameter" in p.name and _near(float(spec.params[p.name]), d)]
    if row.get("type") == "plane" and row.get("normal"):
        n = row["normal"]
        k = max(range(3), key=lambda i: abs(n[i]))
        bbox = spec.family.bbox(spec.params)
        extent = bbox[k] if bbox else None
        if abs(n[k]) < 0.9998 or extent is None:
            return []
        return [p for p in lengths if "diameter" not in p.name and _near(float(spec.params[p.name]), float(extent))]
    return []


def _value(request: str, current: float) -> float | None:
    m = _VALUE.search(request)
    if not m:
        return None
    v = float(m["v"])
    if (m["u"] or "").lower() in ("%", "percent"):
        v = current * v / 100
        if not (_MORE.search(request) or _LESS.search(request)):
            return v
    if _MORE.search(request):
        return current + v
    if _LESS.search(request):
        return current - v
    return v


def map_selection(request: str, rows: list[dict], spec: PartSpec | None) -> tuple[str | None, str]:
    """(the request as the templates read it, or None; a sentence saying what the selection was taken as)."""
    if not rows:
        return None, ""
    row = rows[0]
    label = describe(row)
    if spec is None:
        return None, (
            f"I can't tie the selected {label} to a parameter: the current part is not one of my templates "
            "(a model behind an API can edit it through its selector)."
        )
    found = _candidates(row, spec)
    family = spec.family.name.replace("_", " ")
    if len(found) != 1:
        why = "two parameters have that size" if found else "no parameter of the template measures it"
        return None, (
            f"I can't tie the selected {label} to one {family} parameter ({why}); "
            'name the dimension instead, e.g. "make the thickness 8 mm".'
        )
    param = found[0]
    current = float(spec.params[param.name])
    value = _value(request, current)
    if value is None:
        return (
            None,
            f"The selected {label} is the {family}'s {param.name.replace('_', ' ')} ({format_number(current)} mm): how big should it be?",
        )
    alias = (param.concepts[0] if param.concepts else param.name).replace("_", " ")
    phrased = f"set the {alias} to {format_number(round(value, 3))} mm"
    if apply_change(spec, phrased).params.get(param.name) == spec.params[param.name] and not _near(value, current):
        return None, f"I can't change the {param.name.replace('_', ' ')} of the selected {label} from here."
    return phrased, f"The selected {label} is the {family}'s {param.name.replace('_', ' ')}."

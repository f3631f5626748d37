"""The offline provider's `requirements` for create_3d_model (issue 23): the template's values, each marked stated
(the user's words gave it) or assumed (a default), and what the request asked for that the template does not model.

Read from the request as the provider parsed it, after any selection text was taken out (issue 27): numbers in
the rows of a picked face are measurements of the current part, not values the user asked for.
"""

from __future__ import annotations

import re
from typing import Any

from chat3d.llm.offline.model import PartSpec, exact_extents
from chat3d.llm.offline.spec import read_request

_NOT_MODELLED = re.compile(r"Not modelled \(the offline templates can't\): (.*?)\.(?:\s|$)")
_HOLE_COUNTS = {
    "hole_count": ("hole_diameter", 1),
    "bolt_count": ("bolt_hole_diameter", 1),
    "holes_per_leg": ("hole_diameter", 2),
}
_HOLE_DIAMETERS = ("inner_diameter", "bore_diameter", "shaft_diameter")
_WALL_FAMILIES = ("enclosure", "tray")


def not_modelled(intro: str) -> list[str]:
    """The items the reply lists as not modelled (offline/provider.py `_not_modelled`)."""
    m = _NOT_MODELLED.search(intro)
    return [s.strip() for s in m[1].split(";") if s.strip()] if m else []


def requirements_for(spec: PartSpec, stated: set[str], request: str, intro: str) -> list[dict]:
    """The create_3d_model `requirements` for a template part."""
    fam, p = spec.family, spec.params

    def source(*names: str) -> str:
        return "stated" if names and all(n in stated for n in names) else "assumed"

    out: list[dict] = []
    bbox = exact_extents(spec)
    if bbox:
        # The values the extents come from: the "A x B x C" dimensions, or else the diameter and height/thickness.
        sizing = fam.dims or tuple(n for n in ("outer_diameter", "diameter", "height", "thickness") if n in p)
        out.append({"kind": "size", "value": [float(v) for v in bbox], "source": source(*sizing)})
    holes = 0
    for name, (dname, per) in _HOLE_COUNTS.items():
        if name in p and (p[name] > 0 or name in stated):
            holes = int(p[name]) * per
            out.append(
                {
                    "kind": "holes",
                    "count": holes,
                    "diameter_mm": float(p[dname]),
                    "diameter_assumed": dname not in stated,
                    "source": source(name),
                }
            )
    for name in _HOLE_DIAMETERS:
        if p.get(name, 0) > 0:
            out.append({"kind": "diameter", "feature": "hole", "value": float(p[name]), "source": source(name)})
    if fam.name in ("cylinder", "flange") and p.get("outer_diameter"):
        out.append(
            {
                "kind": "diameter",
                "feature": "boss",
                "value": float(p["outer_diameter"]),
                "source": source("outer_diameter"),
            }
        )
    if "thickness" in p and fam.name in ("plate", "l_bracket", "flange", "spur_gear"):
        out.append({"kind": "thickness", "value": float(p["thickness"]), "source": source("thickness")})
    if "wall" in p and fam.name in _WALL_FAMILIES:
        out.append({"kind": "wall", "value": float(p["wall"]), "source": source("wall")})
    if "teeth" in p:
        out.append({"kind": "teeth", "count": int(p["teeth"]), "source": source("teeth")})
    words = request.lower()
    if holes and re.search(r"\bthrough\b", words):
        out.append({"kind": "through", "source": "stated"})
    if re.search(r"\bsymmetric(?:al)?\b", words):
        out.append({"kind": "symmetric", "source": "stated"})
    if re.search(r"\b(?:one|single)[- ](?:piece|solid|body)\b", words):
        out.append({"kind": "one_solid", "source": "stated"})
    out += [{"kind": "feature", "label": item, "source": "not_modelled"} for item in not_modelled(intro)]
    return out


STATED_KEY = "template_stated"  # the tool call remembers which template values the user gave, for later changes


def tool_arguments(spec: PartSpec, previous: PartSpec | None, request: str, intro: str, history: list) -> dict:
    """`requirements` (and the stated-value memory) for the create_3d_model call of this turn. A change keeps
    what earlier turns stated and adds what it changed; a new part states what its request gives."""
    if previous is not None and previous.family is spec.family and intro.startswith("Updating the"):
        before: list[Any] = next(
            (
                c.arguments[STATED_KEY]
                for m in reversed(history)
                for c in reversed(m.tool_calls)
                if isinstance(c.arguments, dict) and isinstance(c.arguments.get(STATED_KEY), list)
            ),
            [],
        )
        stated = {str(n) for n in before} | {n for n in spec.params if spec.params[n] != previous.params.get(n)}
    else:
        stated = set(read_request(spec.family, request).values)
    return {"requirements": requirements_for(spec, stated, request, intro), STATED_KEY: sorted(stated)}

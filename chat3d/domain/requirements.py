"""Requirements checked on the solid (issue 23): what the user asked for, against what the post step measured.

A requirement comes from the `create_3d_model` tool call (`requirements`): a kind, its values, and where the
values came from: ``stated`` by the user, ``assumed`` (a default the model or template chose) or
``not_modelled`` (asked for, but the part does not have it). The measurements are the render service's trusted
post step's (render_service/postrender.py ``measure_features``), never the program's. Each requirement gets one
status: ``pass`` ✓, ``fail`` ✗, ``assumed`` (shown, never ✓), ``not_modelled`` ✗, ``not_checkable`` (nothing
measured can say). Framework-free: the runner, the API and the UI all read these dicts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

KINDS = (
    "size",
    "holes",
    "bosses",
    "teeth",
    "slots",
    "diameter",
    "thickness",
    "wall",
    "through",
    "blind",
    "symmetric",
    "one_solid",
    "feature",
)
SOURCES = ("stated", "assumed", "not_modelled")
STATUS_MARK = {
    "pass": "✓",
    "fail": "✗",
    "assumed": "assumed",
    "not_modelled": "✗ not modelled",
    "not_checkable": "not checked",
}
MAX_REQUIREMENTS = 30
MAX_CYLINDERS = 200

# The tool's JSON schema for one requirement (chat3d/llm/tools.py embeds it).
REQUIREMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {
            "type": "string",
            "enum": list(KINDS),
            "description": "size: overall [x, y, z] mm; holes/bosses/teeth/slots: a count (holes/bosses may "
            "give diameter_mm); diameter: a round feature's diameter (feature 'hole' or 'boss'); "
            "thickness: plate thickness; wall: minimum wall; through/blind: the holes; "
            "symmetric; one_solid; feature: anything else, named in label.",
        },
        "value": {
            "type": ["number", "array", "null"],
            "items": {"type": "number"},
            "description": "mm; [x, y, z] for size",
        },
        "count": {"type": ["integer", "null"]},
        "diameter_mm": {"type": ["number", "null"]},
        "diameter_assumed": {"type": ["boolean", "null"], "description": "true when you chose diameter_mm"},
        "feature": {"type": ["string", "null"], "enum": ["hole", "boss", None]},
        "label": {"type": ["string", "null"], "description": "words for kind 'feature'"},
        "source": {
            "type": "string",
            "enum": list(SOURCES),
            "description": "stated: the user gave it; assumed: you chose it; not_modelled: asked for but "
            "not in the part",
        },
    },
    "required": ["kind", "source"],
}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _mm_number(v: float) -> str:
    """A length as the checklist writes it: to 0.01 mm, without trailing zeros (`4`, `2.5`)."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


# --- input: the tool call's list --------------------------------------------------------------------------


def normalise(raw: Any) -> list[dict]:
    """The tool call's `requirements`, type-checked: malformed entries are dropped, never guessed at."""
    out: list[dict] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            continue
        req: dict[str, Any] = {
            "kind": item["kind"],
            "source": item.get("source") if item.get("source") in SOURCES else "stated",
        }
        value = item.get("value")
        if item["kind"] == "size":
            if not (isinstance(value, list) and len(value) == 3 and all((_num(x) or 0) > 0 for x in value)):
                continue
            req["value"] = [float(x) for x in value]
        elif (number := _num(value)) is not None and number > 0:
            req["value"] = number
        count = item.get("count")
        if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= 10_000:
            req["count"] = count
        if (_num(item.get("diameter_mm")) or 0) > 0:
            req["diameter_mm"] = _num(item["diameter_mm"])
        if req.get("diameter_mm") and item.get("diameter_assumed") is True:
            req["diameter_assumed"] = True  # counted at this diameter, which the user did not give
        if item.get("feature") in ("hole", "boss"):
            req["feature"] = item["feature"]
        if isinstance(item.get("label"), str) and item["label"].strip():
            req["label"] = item["label"].strip()[:120]
        if item["kind"] in ("holes", "bosses", "teeth", "slots") and "count" not in req:
            continue
        if item["kind"] in ("diameter", "thickness", "wall") and "value" not in req:
            continue
        if item["kind"] == "feature" and "label" not in req:
            continue
        out.append(req)
        if len(out) >= MAX_REQUIREMENTS:
            break
    return out


def checked_features(raw: Any) -> dict | None:
    """The post step's `features` as the app keeps them (type-checked, bounded), or None."""
    if not isinstance(raw, dict):
        return None
    cylinders = []
    listed = raw.get("cylinders")
    for c in (listed if isinstance(listed, list) else [])[:MAX_CYLINDERS]:
        if not isinstance(c, dict) or c.get("kind") not in ("hole", "boss") or (_num(c.get("diameter_mm")) or 0) <= 0:
            continue
        vecs = {
            k: [float(x) for x in c[k]]
            for k in ("axis", "at_mm")
            if isinstance(c.get(k), list) and len(c[k]) == 3 and all(_num(x) is not None for x in c[k])
        }
        cylinders.append(
            {
                "kind": c["kind"],
                "diameter_mm": _num(c["diameter_mm"]),
                "through": c.get("through") if isinstance(c.get("through"), bool) else None,
                **vecs,
            }
        )
    centre = raw.get("centre_mm")
    wall = _num(raw.get("min_wall_mm"))
    return {
        "cylinders": cylinders,
        "holes": sum(c["kind"] == "hole" for c in cylinders),
        "through_holes": sum(c["kind"] == "hole" and c["through"] is True for c in cylinders),
        "bosses": sum(c["kind"] == "boss" for c in cylinders),
        "centre_mm": [float(x) for x in centre]
        if isinstance(centre, list) and len(centre) == 3 and all(_num(x) is not None for x in centre)
        else None,
        "min_wall_mm": wall if wall is not None and wall >= 0 else None,
    }


# --- the checker ------------------------------------------------------------------------------------------


def _close(measured: float, wanted: float) -> bool:
    return abs(measured - wanted) <= max(0.1, 0.01 * abs(wanted))


def label(req: dict) -> str:
    kind = req["kind"]
    if kind == "size":
        return " × ".join(_mm_number(v) for v in req["value"]) + " mm"
    if kind in ("holes", "bosses", "teeth", "slots"):
        n = req["count"]
        noun = {"holes": "hole", "bosses": "boss", "teeth": "tooth", "slots": "slot"}[kind]
        plural = noun if n == 1 else {"tooth": "teeth", "boss": "bosses"}.get(noun, noun + "s")
        d = f" Ø{_mm_number(req['diameter_mm'])}" if req.get("diameter_mm") else ""
        d = f" (Ø{_mm_number(req['diameter_mm'])} assumed)" if d and req.get("diameter_assumed") else d
        return f"{n} {plural}{d}"
    if kind == "diameter":
        return (f"{req['feature']} " if req.get("feature") else "") + f"Ø{_mm_number(req['value'])}"
    if kind == "thickness":
        return f"{_mm_number(req['value'])} mm thick"
    if kind == "wall":
        return f"wall {_mm_number(req['value'])} mm"
    if kind == "through":
        return "through holes"
    if kind == "blind":
        return "blind holes"
    if kind == "one_solid":
        return "one solid"
    if kind == "symmetric":
        return "symmetric"
    return req.get("label") or kind


def _measure(req: dict, metrics: dict) -> tuple[str, str]:
    """(pass | fail | not_checkable, what was measured) for one requirement."""
    size = metrics.get("bbox_size_mm")
    feats = metrics.get("features") if isinstance(metrics.get("features"), dict) else None
    kind = req["kind"]
    if kind == "one_solid":
        n = metrics.get("solids")
        return ("not_checkable", "") if n is None else ("pass" if n == 1 else "fail", f"{n} solid{'s' * (n != 1)}")
    if kind == "size":
        if not size:
            return "not_checkable", ""
        got = " × ".join(_mm_number(v) for v in size) + " mm"
        ok = all(_close(a, b) for a, b in zip(sorted(size), sorted(req["value"])))
        return ("pass" if ok else "fail"), f"measured {got}"
    if kind in ("teeth", "slots", "feature"):
        return "not_checkable", ""
    if feats is None:
        return "not_checkable", "not measured"
    cyl = feats["cylinders"]
    if kind in ("holes", "bosses"):
        want = "hole" if kind == "holes" else "boss"
        found = [c for c in cyl if c["kind"] == want]
        d = req.get("diameter_mm")
        matching = [c for c in found if d is None or _close(c["diameter_mm"], d)]
        sizes = sorted({_mm_number(c["diameter_mm"]) for c in found})
        seen = f"found {len(found)} {kind}" + (f" (Ø{', Ø'.join(sizes)})" if sizes else "")
        return ("pass" if len(matching) == req["count"] else "fail"), seen
    if kind == "diameter":
        pool = [c for c in cyl if req.get("feature") in (None, c["kind"])]
        ok = any(_close(c["diameter_mm"], req["value"]) for c in pool)
        sizes = sorted({_mm_number(c["diameter_mm"]) for c in pool})
        return ("pass" if ok else "fail"), ("round faces: Ø" + ", Ø".join(sizes)) if sizes else "no round face"
    if kind in ("through", "blind"):
        holes = [c for c in cyl if c["kind"] == "hole"]
        if not holes:
            return "fail", "no hole found"
        through = sum(c["through"] is True for c in holes)
        ok = through == len(holes) if kind == "through" else through < len(holes)
        return ("pass" if ok else "fail"), f"{through} of {len(holes)} holes go through"
    if kind == "thickness":
        wall = feats.get("min_wall_mm")
        dims = list(size or [])
        ok = any(_close(v, req["value"]) for v in dims + ([wall] if wall is not None else []))
        return ("pass" if ok else "fail"), f"thinnest size {_mm_number(min(dims))} mm" if dims else ""
    if kind == "wall":
        wall = feats.get("min_wall_mm")
        if wall is None:
            return "not_checkable", "not measured"
        ok = wall >= req["value"] - max(0.1, 0.05 * req["value"]) and wall <= req["value"] * 1.5 + 0.1
        return ("pass" if ok else "fail"), f"thinnest sampled wall {_mm_number(wall)} mm"
    if kind == "symmetric":
        centre, lo, hi = feats.get("centre_mm"), metrics.get("bbox_min_mm"), metrics.get("bbox_max_mm")
        if not (centre and lo and hi):
            return "not_checkable", ""
        off = [abs(centre[i] - (lo[i] + hi[i]) / 2) for i in range(2)]
        ok = all(o <= max(0.1, 0.01 * (hi[i] - lo[i])) for i, o in enumerate(off))
        return ("pass" if ok else "fail"), "centre of mass " + ("on" if ok else "off") + " the middle in x and y"
    return "not_checkable", ""


def check(requirements: list[dict], metrics: dict) -> list[dict]:
    """One row per requirement: {kind, label, source, status, detail}. An assumed value is never ✓ (its
    measurement is kept in detail); a not-modelled one is ✗ whatever the part looks like."""
    rows = []
    for req in requirements:
        status, detail = _measure(req, metrics or {})
        if req["source"] == "not_modelled":
            status = "not_modelled"
        elif req["source"] == "assumed":
            status = "assumed"
        rows.append(
            {"kind": req["kind"], "label": label(req), "source": req["source"], "status": status, "detail": detail}
        )
    return rows


def spec_of(model: Mapping[str, Any] | None) -> list[dict]:
    """The requirements a stored version was checked against (re-checked when its sliders or code change)."""
    model = model or {}
    spec = model.get("requirementSpec")
    if isinstance(spec, list):
        return normalise(spec)
    return normalise(((model.get("toolCall") or {}).get("arguments") or {}).get("requirements"))


def summary(rows: list[dict]) -> str:
    """ "80 × 50 × 5 mm ✓ · 4 holes Ø4 ✓ · 5 mm thick assumed"."""
    return " · ".join(f"{r['label']} {STATUS_MARK.get(r['status'], '')}".strip() for r in rows)


def failed(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "fail"]


def repair_request(rows: list[dict], code: str) -> str:
    """The codegen model's repair message when stated requirements failed on the measured solid."""
    lines = "\n".join(f"- {r['label']}: {r['detail'] or 'not met'}" for r in failed(rows))
    return (
        "The program ran, but the measured part does not meet these requirements:\n"
        f"{lines}\nFix the program so the part meets them, keeping everything else. Current program:\n"
        f"```python\n{code}\n```"
    )


def reply_note(rows: list[dict], rounds: int) -> str:
    """What the reply says when the part is delivered with ✗ items."""
    bad = [r for r in rows if r["status"] in ("fail", "not_modelled")]
    if not bad:
        return ""
    tried = f" after {rounds} repair round{'s' * (rounds != 1)}" if rounds else ""
    return (
        f"Not met{tried}: "
        + "; ".join(
            f"{r['label']} ({'not modelled' if r['status'] == 'not_modelled' else r['detail'] or 'failed'})"
            for r in bad
        )
        + "."
    )

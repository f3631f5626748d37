"""Pointing at geometry (issue 27): a selected face or edge in words, as a build123d selector, and as prompt context.

Rows come from the version's ``faces.json`` (made by the render service's trusted post step,
render_service/topology.py); the browser only sends ids, and the server looks the rows up, so nothing
the page sends reaches a prompt except which of the stored rows were picked.
"""

from __future__ import annotations

import json
import math

MAX_SELECTED = 12
SELECTION_MARK = "[Selected geometry]"  # starts the block added to the user's message (the offline provider reads it)

_FACE_TYPES = {
    "plane": "PLANE",
    "cylinder": "CYLINDER",
    "cone": "CONE",
    "sphere": "SPHERE",
    "torus": "TORUS",
    "bspline": "BSPLINE",
    "bezier": "BEZIER",
    "revolution": "REVOLUTION",
    "extrusion": "EXTRUSION",
    "offset": "OFFSET",
}
_EDGE_TYPES = {
    "line": "LINE",
    "circle": "CIRCLE",
    "ellipse": "ELLIPSE",
    "bspline": "BSPLINE",
    "bezier": "BEZIER",
    "hyperbola": "HYPERBOLA",
    "parabola": "PARABOLA",
    "offset": "OFFSET",
}
_SIDES = [
    ((0, 0, 1), "top"),
    ((0, 0, -1), "bottom"),
    ((1, 0, 0), "right"),
    ((-1, 0, 0), "left"),
    ((0, -1, 0), "front"),
    ((0, 1, 0), "back"),
]
_AXES = "xyz"


def num(v: float) -> str:
    """`5`, `2.5`, `−32` (a real minus sign; at most two decimals, no trailing zeros)."""
    text = f"{float(v):.2f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", "\u2212")


def _axis_index(vec) -> int | None:
    """0/1/2 when the vector lies along x/y/z (within about 1 degree), else None."""
    if not vec:
        return None
    i = max(range(3), key=lambda k: abs(vec[k]))
    return i if abs(vec[i]) > 0.9998 else None


def describe(row: dict) -> str:
    """One selection in words: 'top face, 80 × 50 mm, z = 5'; 'hole Ø4 at (−32, −17)'; 'edge, 80 mm along x'."""
    part = f" (part {row['solid']})" if row.get("solid", 1) != 1 else ""
    kind = row.get("type")
    if str(row.get("id", "")).startswith("E"):
        if kind == "circle":
            c = row.get("centre", [0, 0, 0])
            return f"circular edge Ø{num(2 * row['radius'])} at ({', '.join(num(v) for v in c)}){part}"
        ax = _axis_index(row.get("axis"))
        along = f" along {_AXES[ax]}" if kind == "line" and ax is not None else ""
        return f"{kind if kind != 'line' else ''} edge, {num(row.get('length', 0))} mm{along}".strip() + part
    if kind == "plane":
        n = row.get("normal") or [0, 0, 0]
        side = next((name for vec, name in _SIDES if sum(a * b for a, b in zip(vec, n)) > 0.9998), None)
        ax = _axis_index(n)
        if side and ax is not None and row.get("bbox"):
            lo, hi = row["bbox"]["min"], row["bbox"]["max"]
            dims = [hi[k] - lo[k] for k in range(3) if k != ax]
            return f"{side} face, {num(dims[0])} × {num(dims[1])} mm, {_AXES[ax]} = {num(row['centre'][ax])}{part}"
        return f"flat face, {num(row.get('area', 0))} mm²{part}"
    if kind == "cylinder":
        ax = _axis_index(row.get("axis"))
        p = row.get("axis_point") or row.get("centre") or [0, 0, 0]
        where = ", ".join(num(p[k]) for k in range(3) if k != ax) if ax is not None else ", ".join(num(v) for v in p)
        if row.get("inner"):
            return f"hole Ø{num(2 * row['radius'])} at ({where}){part}"
        return f"round face Ø{num(2 * row['radius'])} at ({where}), {num(row.get('length', 0))} mm long{part}"
    if kind in ("sphere", "torus", "cone"):
        return f"{kind} face R{num(row.get('radius', 0))}{part}"
    return f"curved face, {num(row.get('area', 0))} mm²{part}"


def selector(row: dict, variable: str = "result") -> str:
    """A build123d expression that picks the same face/edge in the current program's `result`.

    Of the faces (edges) of the row's geometric type, the one nearest to a point the post step took inside
    it (a face's largest triangle's centre; an edge's middle): that point lies on the picked face only, so
    the nearest one is it.
    """
    x, y, z = (float(v) for v in row.get("point") or row.get("centre") or (0, 0, 0))
    point = f"Vector({x:g}, {y:g}, {z:g})"
    if str(row.get("id", "")).startswith("E"):
        kind = _EDGE_TYPES.get(str(row.get("type")))
        typed = f".filter_by(GeomType.{kind})" if kind else ""
        return f"{variable}.edges(){typed}.sort_by_distance({point})[0]"
    kind = _FACE_TYPES.get(str(row.get("type")))
    typed = f".filter_by(GeomType.{kind})" if kind else ""
    return f"{variable}.faces(){typed}.sort_by_distance({point})[0]"


def pick_rows(table: dict, ids: list[str]) -> list[dict]:
    """The stored rows for the picked ids, in the order picked; unknown ids are dropped, at most MAX_SELECTED."""
    rows = {r.get("id"): r for r in [*(table.get("faces") or []), *(table.get("edges") or [])] if isinstance(r, dict)}
    out, seen = [], set()
    for i in ids:
        if isinstance(i, str) and i in rows and i not in seen:
            seen.add(i)
            out.append(rows[i])
        if len(out) >= MAX_SELECTED:
            break
    return out


def selection_items(rows: list[dict]) -> list[dict]:
    """What a user item keeps: per row the words, the selector and the row (the table's own fields)."""
    return [{"id": r["id"], "label": describe(r), "selector": selector(r), "row": r} for r in rows]


def context_text(items: list[dict]) -> str:
    """The block appended to the user's message for both models: rows as JSON plus their selectors."""
    if not items:
        return ""
    lines = [
        SELECTION_MARK,
        "The user pointed at these faces/edges of the current version (coordinates in mm, ids from its face table). "
        "Each has a build123d expression that picks it in the current program's `result`:",
    ]
    for it in items:
        lines.append(f"- {it['id']}: {it['label']}; selector: `{it['selector']}`")
    lines.append("Rows: " + json.dumps([it["row"] for it in items], separators=(",", ":"), sort_keys=True))
    return "\n".join(lines)


def parse_context(text: str) -> list[dict]:
    """The rows of a selection block in a message (for the offline provider), or []."""
    if SELECTION_MARK not in text:
        return []
    for line in text[text.index(SELECTION_MARK) :].splitlines():
        if line.startswith("Rows: "):
            try:
                rows = json.loads(line[6:])
            except ValueError:
                return []
            return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    return []


def without_context(text: str) -> str:
    """The user's own words (the selection block removed)."""
    return text.split(SELECTION_MARK, 1)[0].rstrip()


def is_finite_row(row: dict) -> bool:
    vals = [v for k in ("point", "centre") for v in (row.get(k) or [])]
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals)


def load_table(session, owner_id, version_item_id: str, context_id=None) -> dict | None:
    """One of the owner's versions' stored face/edge table (its faces.json), or None when it has none.

    A version of another user (or, with ``context_id``, of another chat) is refused as not found.
    """
    from chat3d.domain import files, versions

    _item, model = versions.get_version(session, owner_id, version_item_id, context_id)
    ref = versions.file_ref(model, "topology")
    if ref is None:
        return None
    try:
        table = json.loads(files.read_bytes(files.get_file(session, owner_id, ref["id"])))
    except (ValueError, OSError):
        return None
    return table if isinstance(table, dict) else None


def viewer_rows(table: dict) -> dict:
    """What the viewer's picking needs of a table: per face/edge its id, solid, type and words (``describe``,
    so the hover line, the keyboard list and the composer's chips say the same thing), plus the cap note."""

    def rows(key: str) -> list[dict]:
        return [
            {"id": r["id"], "solid": r.get("solid", 1), "type": r.get("type"), "label": describe(r)}
            for r in table.get(key) or []
            if isinstance(r, dict) and isinstance(r.get("id"), str)
        ]

    return {
        "faces": rows("faces"),
        "edges": rows("edges"),
        "faceCount": table.get("face_count"),
        "note": table.get("note") or "",
    }


def resolve(session, owner_id, context_id, version_item_id: str, ids: list[str]) -> list[dict]:
    """The picked rows of one of the owner's versions in this chat (its stored faces.json); [] when it has none.

    Ids that are not in the table are dropped; a version of another chat or user is refused as not found.
    """
    from chat3d.domain.errors import InvalidInput

    if not ids:
        return []
    if not isinstance(ids, list) or len(ids) > 200 or not all(isinstance(i, str) and len(i) <= 12 for i in ids):
        raise InvalidInput("The selection is not a list of face or edge ids.")
    table = load_table(session, owner_id, version_item_id, context_id)
    if table is None:
        return []
    return [r for r in pick_rows(table, ids) if is_finite_row(r)]

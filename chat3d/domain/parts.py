"""A version's named parts (issue 27 step 4): the parts table the render service measured, and each part's own files.

The render service's trusted post step names each solid from the program's labels (plain text, at most 40
characters, deduplicated, "Part n" otherwise: render_service/parts.py) and measures it; the table arrives in the
render's metrics (`parts`). A result of several solids also gets `parts.zip` (a model file of format `parts`):
`part-<n>.stl|step|3mf`, each that part only. One stored file per version, so forks, exports, shares and
deletion carry it like any other model file; a download reads one member out of it.
"""

from __future__ import annotations

import math
import unicodedata
import zipfile
from collections.abc import Mapping
from typing import Any

from chat3d.db.models import StoredFile
from chat3d.domain import files
from chat3d.domain.errors import NotFound

PART_FORMATS = ("stl", "step", "3mf")
MAX_PARTS = 32  # the render service lists (and makes files for) at most this many parts
MAX_NAME = 40
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # a member larger than this is refused (the renderer caps far lower)


def _vec(v: Any) -> list[float] | None:
    if (
        isinstance(v, list)
        and len(v) == 3
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
    ):
        return [float(x) for x in v]
    return None


def _plain(name: Any) -> bool:
    """A name as the render service makes them: one line of visible text, no markup, at most MAX_NAME."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME
        and name == name.strip()
        and not any(unicodedata.category(ch)[0] == "C" or ch in "<>" for ch in name)
    )


def checked_parts(raw: Any) -> list[dict] | None:
    """The render's parts table, each row type-checked (an odd name becomes "Part n"); None when absent."""
    if not isinstance(raw, list):
        return None
    out = []
    for i, row in enumerate(raw[:MAX_PARTS], 1):
        if not isinstance(row, dict):
            return None
        bbox = row.get("bbox")
        if not isinstance(bbox, dict):
            bbox = {}
        vol = row.get("volume")
        out.append(
            {
                "name": row["name"] if _plain(row.get("name")) else f"Part {i}",
                "solid": i,
                "size": _vec(row.get("size")),
                "bbox": {"min": _vec(bbox.get("min")), "max": _vec(bbox.get("max"))},
                "volume": float(vol)
                if isinstance(vol, (int, float)) and not isinstance(vol, bool) and math.isfinite(vol)
                else None,
            }
        )
    return out


def bundle_ref(model: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version's parts.zip reference: only results of several solids have one."""
    return next((f for f in model.get("files") or [] if isinstance(f, dict) and f.get("format") == "parts"), None)


def parts_of(model: Mapping[str, Any] | None) -> list[dict]:
    """The version's parts table (rows as checked_parts makes them); [] without one."""
    metrics = (model or {}).get("metrics") or {}
    return checked_parts(metrics.get("parts")) or []


def downloadable(model: Mapping[str, Any] | None) -> tuple[list[dict], str]:
    """(parts, parts.zip file id) when the version has per-part files, else ([], "")."""
    ref = bundle_ref(model or {})
    rows = parts_of(model)
    return (rows, str(ref["id"])) if ref and len(rows) > 1 else ([], "")


def part_number(n: Any, fmt: str) -> int:
    try:
        number = int(n)
    except (TypeError, ValueError):
        raise NotFound("No such part.") from None
    if fmt not in PART_FORMATS or not 1 <= number <= MAX_PARTS:
        raise NotFound("No such part file.")
    return number


def read_part(row: StoredFile, number: int, fmt: str) -> bytes:
    """One part's file out of a stored parts.zip (made by the render service's trusted post step)."""
    if row.format != "parts":
        raise NotFound("No such part file.")
    path = files.absolute_path(row)
    if not path.is_file():
        raise NotFound("This file is no longer stored.")
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"part-{number}.{fmt}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise NotFound("No such part file.")
            return zf.read(info)
    except (KeyError, zipfile.BadZipFile):
        raise NotFound("No such part file.") from None


def part_name(model: Mapping[str, Any] | None, number: int) -> str:
    rows = parts_of(model)
    return rows[number - 1]["name"] if 0 < number <= len(rows) else f"Part {number}"


def download_names(stems: tuple[str, str], name: str, fmt: str) -> tuple[str, str]:
    """(ASCII, UTF-8) names of a part's download: the version's stem and the part's name, `flange-v3-lid.step`."""
    from chat3d.domain.versions import slug

    return tuple(
        f"{stem}-{slug(name, ascii_only=ascii_only) or 'part'}.{fmt}" for stem, ascii_only in zip(stems, (True, False))
    )  # type: ignore[return-value]

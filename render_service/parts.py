"""Named parts (issue 27 step 4): the program's labels, across the sandbox wall, as plain part names.

OCCT's BRep keeps no names, so the job's process (untrusted: it ran the program) also lists, in its
``result.json``, one label per solid in the order ``shape.solids()`` visits them (``program_labels``). The
trusted post step reads that list back (``read_labels``) and keeps it only if it has exactly as many entries as
the B-rep it parsed has solids; each name is then made plain text (``clean_label``: no control or format
characters, no markup, one line, at most ``MAX_LABEL_CHARS``), deduplicated, and an empty one becomes
"Part n" (``part_names``). A lying program can only mislabel its own parts; a name never reaches a path.
"""

from __future__ import annotations

import io
import json
import os
import re
import unicodedata
import zipfile

MAX_LABEL_CHARS = 40  # a part name's length, after cleaning
RAW_LABEL_CHARS = 200  # what the job's process keeps per label (the post step cleans it)
MAX_LABELLED_SOLIDS = 1000  # more solids than this: the job sends no labels (every part is "Part n")
MAX_PARTS = 32  # parts listed with their own measurements and files; the rest are counted
LABELS_CAP = 1 << 20  # bytes of job-result.json read for the labels
PART_FORMATS = ("stl", "step", "3mf")  # the files each part gets in parts.zip (part-<n>.<ext>)
_TAG = re.compile(r"<[^<>]{0,200}>")


# --- job side: runs in the untrusted worker, after the program --------------------------------------------


def program_labels(raw, shape) -> list[str] | None:
    """One label per solid of ``shape`` (the program's ``result``), or None when they cannot be matched.

    A solid gets the label of the nearest labelled node above it in the build123d tree (``Compound(children=
    [base, lid])`` with ``base.label = "base"``); a Compound's solids are its children's, in order. ``raw`` is
    the program's own ``result`` (a list of shapes counts as their children)."""
    try:
        total = len(shape.solids())
        if not total or total > MAX_LABELLED_SOLIDS:
            return None
        items = (
            list(raw) if isinstance(raw, (list, tuple)) else [getattr(raw, "part", raw) if raw is not None else shape]
        )
        out: list[str] = []
        for item in items:
            _collect(item, "", out, total, 0)
        return out if len(out) == total else None
    except Exception:  # noqa: BLE001 - the program may have broken anything; names are optional
        return None


def _collect(node, inherited: str, out: list[str], budget: int, depth: int) -> None:
    label = getattr(node, "label", "")
    own = label[:RAW_LABEL_CHARS] if isinstance(label, str) and label else inherited
    children = tuple(getattr(node, "children", ()) or ())
    if children and depth < 32:
        for child in children:
            _collect(child, own, out, budget, depth + 1)
            if len(out) > budget:
                raise ValueError("more labels than solids")
    else:
        out.extend([own] * len(node.solids()))


# --- post side: trusted ------------------------------------------------------------------------------------


def read_labels(path: str) -> list | None:
    """The ``labels`` list of the job's result.json (copied by the post process), or None. Only read here."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, LABELS_CAP + 1)
    finally:
        os.close(fd)
    if len(data) > LABELS_CAP:
        return None
    try:
        labels = json.loads(data).get("labels")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None
    return labels if isinstance(labels, list) else None


def clean_label(raw) -> str:
    """Plain one-line text of at most MAX_LABEL_CHARS: tags and angle brackets removed, whitespace runs made
    one space, control/format/private/unassigned characters dropped (so no bidi overrides or zero-width tricks)."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFKC", raw[:RAW_LABEL_CHARS])
    text = _TAG.sub(" ", text)
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or (unicodedata.category(ch)[0] != "C" and ch not in "<>")
    )
    return " ".join(text.split())[:MAX_LABEL_CHARS].strip()


def part_names(labels, count: int) -> list[str]:
    """``count`` distinct names: the cleaned labels when the job sent exactly one per solid, else "Part n"."""
    given = labels if isinstance(labels, list) and len(labels) == count else [None] * count
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(given, 1):
        base = clean_label(raw) or f"Part {i}"
        name, n = base, 1
        while name.casefold() in seen:
            n += 1
            suffix = f" {n}"
            name = base[: MAX_LABEL_CHARS - len(suffix)].rstrip() + suffix
        seen.add(name.casefold())
        names.append(name)
    return names


def ascii_name(name: str) -> str:
    """A STEP product name: OCCT's STEP writer here stores non-ASCII names double-encoded, so STEP gets the
    name's ASCII letters (accents dropped) and the UI and 3MF the full name."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = " ".join("".join(ch for ch in text if ch.isprintable() and ch not in "'\\").split())
    return text


def describe(solids, names: list[str]) -> list[dict]:
    """The parts table: name, solid number (its ``solid_<n>`` GLB node), size, extent and volume of each of the
    first MAX_PARTS solids, measured on the parsed geometry."""
    table = []
    for i, (solid, name) in enumerate(zip(solids[:MAX_PARTS], names), 1):
        bb = solid.bounding_box()
        table.append(
            {
                "name": name,
                "solid": i,
                "size": [round(bb.size.X, 4), round(bb.size.Y, 4), round(bb.size.Z, 4)],
                "bbox": {
                    "min": [round(bb.min.X, 4), round(bb.min.Y, 4), round(bb.min.Z, 4)],
                    "max": [round(bb.max.X, 4), round(bb.max.Y, 4), round(bb.max.Z, 4)],
                },
                "volume": round(float(solid.volume), 4),
            }
        )
    return table


def write_bundle(path: str, members: dict[str, bytes]) -> None:
    """parts.zip: ``part-<n>.<ext>`` per listed part (deflated, fastest level: STEP text shrinks ~5x)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with open(path, "wb") as fh:
        fh.write(buf.getbuffer())

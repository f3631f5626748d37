"""Importing a STEP or STL file as the starting point of a chat.

The upload is recognised by its content (never its name), capped by `IMPORT_MAX_BYTES`, and becomes an
*imported* version: an assistant item whose program is a two-line build123d script that loads the file
(`imported = import_step("part.step")`, `result = imported`). The render service runs that program with
the file attached to the job (chat3d.pipeline.imports), so versions, downloads, the viewer, thumbnails and
shares all work on it, and every later version of the chat carries the same file along (`inputs` in the
model segment) so the model can edit around the imported shape.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from chat3d.db.models import ChatContext, ChatItem, FileKind, ItemRole
from chat3d.domain import chats, files, segments, versions
from chat3d.domain.errors import InvalidInput
from chat3d.events.store import record_item_updated
from chat3d.settings import get_settings

FORMAT_LABEL = {"step": "STEP", "stl": "STL"}
_STL_FACET = 50  # bytes per triangle in a binary STL


def max_bytes() -> int:
    return get_settings().import_max_bytes


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def sniff_cad(data: bytes) -> str | None:
    """`step`, `stl` or None, from the bytes alone.

    STEP (ISO 10303-21) files open with `ISO-10303-21;`. A binary STL is an 80-byte header, a triangle
    count and exactly 50 bytes per triangle (its header may itself start with "solid", so the size decides
    first); an ASCII STL starts with `solid` and has facets with vertices.
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"ISO-10303-21;"):
        return "step"
    if len(data) >= 84:
        (count,) = struct.unpack_from("<I", data, 80)
        if count > 0 and len(data) == 84 + _STL_FACET * count:
            return "stl"
    if head[:5].lower() == b"solid":
        sample = data[:65536].lower()
        if b"facet" in sample and b"vertex" in sample:
            try:
                data[:65536].decode("ascii")
            except UnicodeDecodeError:
                return None
            return "stl"
    return None


def validate_cad_upload(data: bytes) -> str:
    """The format of an importable upload, or InvalidInput with a message for a person."""
    if not data:
        raise InvalidInput("The file is empty.")
    cap = max_bytes()
    if len(data) > cap:
        raise InvalidInput(f"Imported files can be at most {_mb(cap)}; this one is larger.")
    fmt = sniff_cad(data)
    if fmt is None:
        if len(data) == 84 and struct.unpack_from("<I", data, 80)[0] == 0:  # a binary STL of zero triangles
            raise InvalidInput("This STL file holds no triangles.")
        raise InvalidInput("Only STEP (.step, .stp) and STL files can be imported; this file is neither.")
    return fmt


_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)", re.I)


def is_binary_stl(data: bytes) -> bool:
    return len(data) >= 84 and len(data) == 84 + _STL_FACET * struct.unpack_from("<I", data, 80)[0]


def ascii_stl_to_binary(data: bytes) -> bytes:
    """The same triangles as a binary STL (the render service's mesh reader takes binary STL only).

    Pure data conversion in the app: vertices are parsed as floats, three per facet, nothing is evaluated.
    """
    coords = []
    try:
        for m in _VERTEX.finditer(data):
            coords.append((float(m.group(1)), float(m.group(2)), float(m.group(3))))
    except ValueError:
        raise InvalidInput("This ASCII STL file has a vertex that is not a number; it may be damaged.") from None
    if not coords or len(coords) % 3:
        raise InvalidInput("This ASCII STL file holds no complete triangles; it may be damaged.")
    out = bytearray(b"Chat3D: converted from ASCII STL".ljust(80, b" "))
    out += struct.pack("<I", len(coords) // 3)
    for i in range(0, len(coords), 3):
        out += struct.pack("<3f", 0.0, 0.0, 0.0)
        for v in coords[i : i + 3]:
            out += struct.pack("<3f", *v)
        out += b"\0\0"
    return bytes(out)


def input_name(filename: str, fmt: str) -> str:
    """The file's bare name inside the render job: letters, digits, '_' and '-' only, plus the format's extension."""
    base = files.safe_filename(filename or "", "")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60].strip("_-")
    if stem.lower() in ("model", "result"):
        # The render job writes its own model.* and result.json next to the inputs, so the service refuses those
        # names: a Chat3D download (`model.step`) is read as `imported_model.step`.
        stem = f"imported_{stem}"
    return f"{stem or 'imported'}.{fmt}"


def program_for(fmt: str, name: str) -> str:
    """The imported version's program: load the file, leave it in `result`."""
    if fmt == "step":
        load = f'imported = import_step("{name}")'
        note = "import_step"
    else:
        # An STL is a bare triangle mesh; Mesher turns it into a solid that booleans and fillets accept.
        load = f'imported = Mesher().read("{name}")[0]'
        note = "Mesher().read"
    return (
        "from build123d import *\n\n"
        f'# Imported from the user\'s {FORMAT_LABEL[fmt]} file "{name}", attached to every render of this chat.\n'
        f"# Keep the {note} line and model around `imported` (booleans, added features).\n"
        f"{load}\n\n"
        "result = imported\n"
    )


def import_brief(display_name: str, fmt: str, name: str, metrics: dict) -> str:
    size = metrics.get("bbox_size_mm")
    dims = " × ".join(f"{v:.1f}" for v in size) + " mm" if size else "unknown size"
    return (
        f"[imported: {name}] The user imported the {FORMAT_LABEL[fmt]} file {display_name!r}: a part of {dims}. "
        f"Its program loads the file as `imported`; later changes edit around it."
    )


@dataclass
class ImportRecord:
    context: ChatContext
    user_item: ChatItem
    item: ChatItem


def record_import(
    session: Session,
    owner_id: uuid.UUID,
    *,
    source: files.Blob,
    fmt: str,
    display_name: str,
    name: str,
    code: str,
    record_outputs: Callable[[ChatContext, ChatItem], list[segments.FileRef]],  # the rendered files' rows
    metrics: dict,
    context_id: uuid.UUID | str | None = None,
) -> ImportRecord:
    """The rows for a rendered import, in the caller's transaction: a new chat (or the given one), the
    user's "Imported …" item and the imported version, which becomes the chat's current version."""
    if context_id is not None:
        ctx = chats.get_context(session, owner_id, context_id)
        if ctx.name == "New chat" and chats.list_items(session, owner_id, ctx.id, limit=1).total == 0:
            ctx.name = (display_name.rsplit(".", 1)[0].strip() or "Imported part")[: chats.MAX_NAME]  # as a new chat
            session.add(ctx)
    else:
        stem = display_name.rsplit(".", 1)[0].strip() or display_name
        ctx = chats.create_context(session, owner_id, name=(stem or "Imported part")[: chats.MAX_NAME])
    user_item = chats.add_item(session, ctx, ItemRole.user, [segments.text(f"Imported {display_name}")])
    item = chats.add_item(session, ctx, ItemRole.assistant, [])
    src = files.record_blob(
        session,
        owner_id,
        source,
        fmt=fmt,
        filename=display_name,
        kind=FileKind.upload,
        context_id=ctx.id,
        item_id=item.id,
    )
    refs = record_outputs(ctx, item)
    size = metrics.get("bbox_size_mm")
    dims = " × ".join(f"{v:.1f}" for v in size) + " mm" if size else "an unknown size"
    text = (
        f"Imported {display_name} ({FORMAT_LABEL[fmt]}): {dims}. "
        "Describe a change and I'll model it around the imported part."
    )
    brief = import_brief(display_name, fmt, name, metrics)
    item.segments = [
        segments.text(text),
        segments.model(
            files=refs,
            metrics=metrics,
            code=code,
            brief=brief,
            origin="imported",
            # What the conversation model sees in later turns: a tool call that produced this part.
            call=segments.tool_call(f"import_{item.id.hex[:16]}", {"brief": brief}),
            inputs=[segments.input_ref(src, name)],
        ),
    ]
    session.add(item)
    versions.set_current(session, ctx, item)
    session.flush()
    record_item_updated(session, item)
    return ImportRecord(context=ctx, user_item=user_item, item=item)


def inputs_of(model: segments.ModelSegment | None) -> list[segments.InputRef]:
    """The input files a version's program reads (carried from the imported version to every later one)."""
    if model is None:
        return []
    # Stored JSON: a ref that is not a dict, or has no id or name, is skipped.
    return [r.copy() for r in model.get("inputs") or [] if isinstance(r, dict) and r.get("id") and r.get("name")]


def load_inputs(session: Session, owner_id: uuid.UUID, refs: list[segments.InputRef]) -> list[tuple[str, bytes]]:
    """The bytes of a version's input files, for the render service; a file gone from storage is an error."""
    out = []
    for ref in refs:
        row = files.get_file(session, owner_id, ref["id"])
        path = files.absolute_path(row)
        if not path.is_file():
            raise InvalidInput(f"The imported file {ref.get('filename') or ref['name']} is no longer stored.")
        out.append((str(ref["name"]), path.read_bytes()))
    return out

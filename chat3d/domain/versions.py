"""Versions of a chat's model: list, compare, restore as the base of the next prompt, fork into a new chat.

A version is an assistant item carrying a model (a `model` segment with files), in the order the items
were written: prompts, regenerations and the user's own edits all add one. The chat's *current* version
is the one the next prompt iterates on: the newest version, unless the user restored (or edited into) a
specific one and no newer version has been made since (`ChatContext.current_version_at`).
"""

from __future__ import annotations

import copy
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from chat3d.db.models import ChatContext, ChatItem, ItemRole, StoredFile, utcnow
from chat3d.domain import chats, segments
from chat3d.domain.coerce import aware
from chat3d.domain.errors import InvalidInput
from chat3d.domain.parameters import parameter_values
from chat3d.events.store import record_item_updated

MAX_VERSIONS = 500


def model_of(item: ChatItem) -> segments.ModelSegment | None:
    """The item's model segment when it is a version (an answer with rendered files), else None."""
    if item.role != ItemRole.assistant.value:
        return None
    model = segments.model_of(item.segments)
    return model if model and model.get("files") else None


def file_ref(model: segments.ModelSegment, fmt: str) -> segments.FileRef | None:
    return next((f for f in model.get("files") or [] if f.get("format") == fmt), None)


def origin_of(item: ChatItem, model: segments.ModelSegment) -> str:
    if model.get("origin") in ("edited", "parameters", "imported"):
        return str(model["origin"])
    return "regenerated" if item.regenerated_from_id else "prompt"


def version_items(session: Session, ctx: ChatContext, *, before: datetime | None = None) -> list[ChatItem]:
    q = select(ChatItem).where(ChatItem.context_id == ctx.id, ChatItem.role == ItemRole.assistant.value)
    if before is not None:
        q = q.where(ChatItem.created_at < before)
    rows = session.exec(q.order_by(col(ChatItem.created_at), col(ChatItem.id)).limit(MAX_VERSIONS)).all()
    return [r for r in rows if model_of(r) is not None]


def version_numbers(session: Session, context_id: uuid.UUID) -> dict[str, int]:
    """Item id -> version number, as the Versions tab numbers them (`list_versions`): every answer with a model,
    in order, whether it came from a prompt, a regeneration, an edit or an import. The caller has checked the
    chat is the user's."""
    ctx = session.get(ChatContext, context_id)
    found = version_items(session, ctx) if ctx is not None else []
    return {str(v.id): n for n, v in enumerate(found, start=1)}


def pick_current(ctx: ChatContext, versions: list[ChatItem]) -> ChatItem | None:
    """The version the next prompt builds on, among `versions` (oldest first)."""
    if not versions:
        return None
    latest = versions[-1]
    pinned_id, pinned_at = ctx.current_version_item_id, ctx.current_version_at
    if pinned_id is None or pinned_at is None:
        return latest
    pinned = next((v for v in versions if v.id == pinned_id), None)
    if pinned is None:
        return latest
    newer = [v for v in versions if aware(v.created_at) > aware(pinned_at)]
    return newer[-1] if newer else pinned


def current_version(session: Session, ctx: ChatContext, *, before: datetime | None = None) -> ChatItem | None:
    return pick_current(ctx, version_items(session, ctx, before=before))


def set_current(session: Session, ctx: ChatContext, item: ChatItem) -> None:
    ctx.current_version_item_id = item.id
    ctx.current_version_at = utcnow()
    session.add(ctx)


@dataclass
class VersionView:
    item_id: str
    number: int
    origin: str
    created_at: datetime
    current: bool
    metrics: dict
    thumbnail_file_id: str | None
    glb_file_id: str | None
    parameters: dict[str, float] = field(default_factory=dict)
    requirements: list[dict] = field(default_factory=list)  # issue 23: the checklist the runner stored

    def as_json(self) -> dict:
        return {
            "itemId": self.item_id,
            "number": self.number,
            "origin": self.origin,
            "createdAt": self.created_at.isoformat(),
            "current": self.current,
            "metrics": self.metrics,
            "thumbnailFileId": self.thumbnail_file_id,
            "glbFileId": self.glb_file_id,
            "parameters": self.parameters,
            "requirements": self.requirements,
        }


def list_versions(session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str) -> list[VersionView]:
    ctx = chats.get_context(session, owner_id, context_id)
    items = version_items(session, ctx)
    current = pick_current(ctx, items)
    out = []
    for n, item in enumerate(items, start=1):
        model = model_of(item)
        assert model is not None  # version_items keeps only the items model_of finds a version in
        # The PNG the render service's post step drew; a version from before it (SVG only) has none and gets
        # the neutral icon: a stored SVG was written by the program and is never shown.
        png, glb = file_ref(model, "png"), file_ref(model, "glb")
        out.append(
            VersionView(
                item_id=str(item.id),
                number=n,
                origin=origin_of(item, model),
                created_at=item.created_at,
                current=current is not None and item.id == current.id,
                metrics=model.get("metrics") or {},
                thumbnail_file_id=png["id"] if png else None,
                glb_file_id=glb["id"] if glb else None,
                parameters=parameter_values(str(model.get("code") or "")),
                requirements=list(model.get("requirements") or []),
            )
        )
    return out


def get_version(
    session: Session, owner_id: uuid.UUID, item_id: uuid.UUID | str, context_id: uuid.UUID | str | None = None
) -> tuple[ChatItem, segments.ModelSegment]:
    item = chats.get_item(session, owner_id, item_id, context_id)
    model = model_of(item)
    if model is None:
        raise InvalidInput("This message has no model version.")
    return item, model


def restore(session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str, item_id: uuid.UUID | str) -> ChatItem:
    """Make a version the base of the next prompt (nothing is copied; newer versions stay)."""
    ctx = chats.get_context(session, owner_id, context_id)
    item, _ = get_version(session, owner_id, item_id, ctx.id)
    set_current(session, ctx, item)
    record_item_updated(session, item)
    session.flush()
    return item


def compare(session: Session, owner_id: uuid.UUID, a_id: str, b_id: str) -> dict:
    """Metric and parameter differences between two versions (b relative to a)."""
    a, ma = get_version(session, owner_id, a_id)
    b, mb = get_version(session, owner_id, b_id)
    if a.context_id != b.context_id:
        raise InvalidInput("Both versions must belong to the same chat.")
    metrics_a, metrics_b = ma.get("metrics") or {}, mb.get("metrics") or {}
    rows = []
    for key in ("bbox_size_mm", "volume_mm3", "area_mm2", "solids", "faces", "edges"):
        va, vb = metrics_a.get(key), metrics_b.get(key)
        if va is None and vb is None:
            continue
        delta: list[float] | float | None
        if isinstance(va, list) or isinstance(vb, list):
            delta = [round(float(y) - float(x), 4) for x, y in zip(va or [], vb or [])] if va and vb else None
        else:
            delta = round(float(vb) - float(va), 4) if va is not None and vb is not None else None
        rows.append({"metric": key, "a": va, "b": vb, "delta": delta})
    pa, pb = parameter_values(str(ma.get("code") or "")), parameter_values(str(mb.get("code") or ""))
    params = [
        {"name": n, "a": pa.get(n), "b": pb.get(n)}
        for n in sorted(set(pa) | set(pb), key=lambda n: (n not in pa, n))
        if pa.get(n) != pb.get(n)
    ]
    return {
        "a": str(a.id),
        "b": str(b.id),
        "metrics": rows,
        "parameters": params,
        "requirements": {"a": ma.get("requirements") or [], "b": mb.get("requirements") or []},
    }


def _remap_files(
    session: Session, answer: list[segments.Segment], ctx: ChatContext, new_item: ChatItem
) -> list[segments.Segment]:
    """Deep-copied segments whose file refs point at new rows for the same bytes on disk."""
    answer = copy.deepcopy(answer)
    for seg in answer:
        # `inputs`: an imported file the version's program reads (chat3d.domain.imports).
        for ref in _file_refs(seg):
            try:
                src = session.get(StoredFile, uuid.UUID(str(ref.get("id"))))
            except ValueError:
                src = None
            if src is None or src.owner_id != ctx.owner_id:
                continue
            row = StoredFile(
                owner_id=src.owner_id,
                context_id=ctx.id,
                item_id=new_item.id,
                query_id=None,
                kind=src.kind,
                format=src.format,
                filename=src.filename,
                content_type=src.content_type,
                size=src.size,
                sha256=src.sha256,
                storage_path=src.storage_path,
                expires_at=src.expires_at,
            )
            session.add(row)
            session.flush()
            ref["id"] = str(row.id)
    return answer


def _file_refs(seg: segments.Segment) -> list[segments.FileRef]:
    """The stored files a segment names: a model's files and the `inputs` its program reads (an imported
    file, chat3d.domain.imports), a message's attachments (no other kind of segment names files)."""
    if "type" not in seg:  # stored JSON: never written so, but a fork must not fail on it
        return []
    if seg["type"] == "model":
        return [*(seg.get("files") or []), *(seg.get("inputs") or [])]
    if seg["type"] == "attachments":
        return list(seg.get("files") or [])
    return []


def fork(
    session: Session,
    owner_id: uuid.UUID,
    context_id: uuid.UUID | str,
    item_id: uuid.UUID | str,
    *,
    name: str | None = None,
) -> ChatContext:
    """A new chat with this chat's history up to and including the version; later items stay behind.

    Files are not copied on disk: the fork gets its own rows pointing at the same stored bytes, and
    deleting either chat keeps bytes that the other still references.
    """
    src = chats.get_context(session, owner_id, context_id)
    version, _ = get_version(session, owner_id, item_id, src.id)
    rows = session.exec(
        select(ChatItem).where(ChatItem.context_id == src.id).order_by(col(ChatItem.created_at), col(ChatItem.id))
    ).all()
    upto: list[ChatItem] = []
    for row in rows:
        upto.append(row)
        if row.id == version.id:
            break
    fork_name = name or f"{src.name} (fork)"
    new = chats.create_context(session, owner_id, name=fork_name[: chats.MAX_NAME], units=src.units)
    # The source's models as they are (not chosen now: one an admin has turned off since falls back at query time).
    new.conversation_model_id, new.codegen_model_id = src.conversation_model_id, src.codegen_model_id
    mapping: dict[uuid.UUID, uuid.UUID] = {}
    forked_version: ChatItem | None = None  # the version's copy (a version is never pending: always copied)
    for row in upto:
        if segments.is_pending(row.segments):
            continue  # an answer still being written is not history yet
        item = ChatItem(
            context_id=new.id,
            owner_id=owner_id,
            role=row.role,
            segments=[],
            rating=row.rating,
            regenerated_from_id=mapping.get(row.regenerated_from_id) if row.regenerated_from_id else None,
            created_at=row.created_at,
            updated_at=utcnow(),
        )
        session.add(item)
        session.flush()
        item.segments = _remap_files(session, row.segments, new, item)
        session.add(item)
        mapping[row.id] = item.id
        if row.id == version.id:
            forked_version = item
    new.updated_at = utcnow()
    session.add(new)
    session.flush()
    if forked_version is not None:
        record_item_updated(session, forked_version)
    return new


def slug(text: str, *, ascii_only: bool) -> str:
    """`Flansch Größe 3` -> `flansch-größe-3` (or `flansch-grosse-3` ASCII): letters and digits joined by '-'."""
    text = unicodedata.normalize("NFKD" if ascii_only else "NFC", (text or "").casefold() if ascii_only else text or "")
    if ascii_only:  # accents dropped after NFKD split them off; casefold already made ß "ss"
        text = text.encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[^\W_]+", text.lower())
    return "-".join(words)[:80].strip("-")


def download_names(session: Session, row: StoredFile) -> tuple[str, str] | None:
    """A rendered file's download name after its chat and version (`flange-v3.step`): (ASCII fallback, UTF-8).

    None for files that are not a version's model output (uploads, exports keep their own names). The chat's
    name is private, so only the owner's download route uses this (a share link names files otherwise)."""
    if row.kind != "model" or row.item_id is None or row.context_id is None:
        return None
    stems = download_stems(session, row.context_id, row.item_id)
    if stems is None:
        return None
    ext = f".{row.format}" if row.format else ""
    return stems[0] + ext, stems[1] + ext


def download_stems(session: Session, context_id: uuid.UUID, item_id: uuid.UUID) -> tuple[str, str] | None:
    """(ASCII, UTF-8) `flange-v3` for a version's files; the workbench's Files tab shows the same names."""
    ctx = session.get(ChatContext, context_id)
    if ctx is None:
        return None
    ids = [v.id for v in version_items(session, ctx)]
    suffix = f"-v{ids.index(item_id) + 1}" if item_id in ids else ""
    return (
        (slug(ctx.name, ascii_only=True) or "model") + suffix,
        (slug(ctx.name, ascii_only=False) or "model") + suffix,
    )


def _program(code: str) -> str:
    return "\n".join(line.rstrip() for line in (code or "").strip().splitlines())


def identical_version(session: Session, item_id: uuid.UUID | None, code: str) -> int:
    """The number of version `item_id` when its program is `code` (ignoring trailing blanks), else 0.

    A regeneration that writes the very same program (a deterministic model answers the same request the same
    way) would store a copy that differs in nothing: the runner says so instead (chat3d.pipeline.runner)."""
    item = session.get(ChatItem, item_id) if item_id else None
    for _ in range(MAX_VERSIONS):  # an answer that stored no copy: compare with the version it regenerated
        if item is None or model_of(item) is not None or item.regenerated_from_id is None:
            break
        item = session.get(ChatItem, item.regenerated_from_id)
    if item is None:
        return 0
    model = model_of(item)
    if model is None or _program(str(model.get("code") or "")) != _program(code):
        return 0
    ctx = session.get(ChatContext, item.context_id)
    ids = [v.id for v in version_items(session, ctx)] if ctx is not None else []
    return ids.index(item.id) + 1 if item.id in ids else 0

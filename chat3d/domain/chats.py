"""Chats and their items: ownership, naming, ordering, ratings.

Every function takes the acting user's id and treats a foreign or unknown id as not found, so one user
can never learn that another user's chat exists.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from chat3d.db.models import ChatContext, ChatItem, FileKind, ItemRole, Query, StoredFile, utcnow
from chat3d.domain import segments
from chat3d.domain.coerce import as_uuid, aware
from chat3d.domain.errors import InvalidInput, NotFound

MAX_NAME = 200
MAX_PROMPT = 8000
_UNITS = {"mm", "in"}


def name_from_prompt(prompt: str, limit: int = 48) -> str:
    """A short chat name from the first prompt: its first sentence, trimmed at a word boundary."""
    text = re.sub(r"\s+", " ", prompt).strip()
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".!?")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return (text[:1].upper() + text[1:]) if text else "New chat"


def get_context(session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str) -> ChatContext:
    ctx = session.get(ChatContext, as_uuid(context_id, "chat"))
    if ctx is None or ctx.owner_id != owner_id:
        raise NotFound("No such chat.")
    return ctx


def create_context(
    session: Session,
    owner_id: uuid.UUID,
    *,
    name: str | None = None,
    conversation_model_id: str | None = None,
    codegen_model_id: str | None = None,
    units: str = "mm",
) -> ChatContext:
    if units not in _UNITS:
        raise InvalidInput("Units must be 'mm' or 'in'.")
    _check_models(conversation_model_id, codegen_model_id)
    ctx = ChatContext(
        owner_id=owner_id,
        name=_clean_name(name) if name else "New chat",
        conversation_model_id=conversation_model_id,
        codegen_model_id=codegen_model_id,
        units=units,
    )
    session.add(ctx)
    session.flush()
    return ctx


def _check_models(conversation_model_id: str | None, codegen_model_id: str | None) -> None:
    """A model chosen for a chat must be usable for its stage now (the only check: REST and the composer call
    create/update_context and rely on it). '' or None chooses the default."""
    from chat3d.domain.model_settings import usable_model

    if conversation_model_id:
        usable_model(conversation_model_id, "conversation")
    if codegen_model_id:
        usable_model(codegen_model_id, "codegen")


def _clean_name(name: str) -> str:
    from chat3d.domain.users import clean_line  # control characters out (issue 21, item 15)

    cleaned = clean_line(name)
    if not cleaned:
        raise InvalidInput("A chat name cannot be empty.")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"A chat name can have at most {MAX_NAME} characters.")
    return cleaned


@dataclass
class ContextPage:
    items: list[ChatContext]
    total: int
    # chat id -> file id of the PNG thumbnail of its current version (None: no model yet, or no PNG);
    # filled only when asked for (`list_contexts(..., thumbnails=True)`).
    thumbnails: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)


def list_contexts(
    session: Session,
    owner_id: uuid.UUID,
    *,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
    thumbnails: bool = False,
) -> ContextPage:
    """The user's chats, most recently active first, optionally filtered by name (and with the thumbnail
    of each chat's current version: one more query for the whole page)."""
    cond: list[sa.ColumnElement[bool]] = [col(ChatContext.owner_id) == owner_id]
    if search.strip():
        cond.append(sa.func.lower(col(ChatContext.name)).contains(search.strip().lower(), autoescape=True))
    total = session.exec(select(sa.func.count()).select_from(ChatContext).where(*cond)).one()
    rows = session.exec(
        select(ChatContext)
        .where(*cond)
        .order_by(col(ChatContext.updated_at).desc(), col(ChatContext.id))
        .limit(limit)
        .offset(offset)
    ).all()
    page = ContextPage(items=list(rows), total=int(total))
    if thumbnails:
        page.thumbnails = current_thumbnails(session, page.items)
    return page


def current_thumbnails(session: Session, contexts: list[ChatContext]) -> dict[uuid.UUID, uuid.UUID | None]:
    """For each chat, the PNG thumbnail file of its *current* version, in ONE query for all the chats.

    Same rule as chat3d.domain.versions.pick_current (tested against it): the newest version, unless the
    chat pins one (`current_version_item_id`) and no version was created after the pin. A version is an
    assistant item with rendered (`kind = model`) files, so the files table finds them without reading
    any item's JSON: per chat, rank the versions newest first, keep the newest and the pinned one, and
    left-join each one's PNG (drawn by the render service's post step; a version from before it has none,
    and its stored SVG, written by the program, is never used).
    """
    if not contexts:
        return {}
    ids = [c.id for c in contexts]
    has_files = sa.exists().where(
        col(StoredFile.item_id) == col(ChatItem.id), col(StoredFile.kind) == FileKind.model.value
    )
    ranked = (
        select(
            col(ChatItem.context_id).label("cid"),
            col(ChatItem.id).label("iid"),
            col(ChatItem.created_at).label("at"),
            sa.func.row_number()
            .over(
                partition_by=col(ChatItem.context_id),
                order_by=(col(ChatItem.created_at).desc(), col(ChatItem.id).desc()),
            )
            .label("rn"),
        )
        .where(col(ChatItem.context_id).in_(ids), col(ChatItem.role) == ItemRole.assistant.value, has_files)
        .subquery()
    )
    png = aliased(StoredFile)
    q: Select[uuid.UUID, uuid.UUID, datetime, int, uuid.UUID | None] = (
        # sqlmodel's select() overloads stop at four columns; at run time it takes any number
        select(ranked.c.cid, ranked.c.iid, ranked.c.at, ranked.c.rn, col(png.id))  # type: ignore[call-overload]
        .join(ChatContext, col(ChatContext.id) == ranked.c.cid)
        .outerjoin(
            png,
            sa.and_(col(png.item_id) == ranked.c.iid, col(png.format) == "png", col(png.kind) == FileKind.model.value),
        )
        .where(sa.or_(ranked.c.rn == 1, ranked.c.iid == col(ChatContext.current_version_item_id)))
    )
    latest: dict[uuid.UUID, tuple[datetime, uuid.UUID | None]] = {}
    pinned: dict[uuid.UUID, uuid.UUID | None] = {}
    by_id = {c.id: c for c in contexts}
    for cid, iid, at, rn, thumb_id in session.exec(q).all():
        if rn == 1:
            latest.setdefault(cid, (at, thumb_id))
        if iid == by_id[cid].current_version_item_id:
            pinned.setdefault(cid, thumb_id)
    out: dict[uuid.UUID, uuid.UUID | None] = {}
    for ctx in contexts:
        if ctx.id not in latest:
            out[ctx.id] = None
            continue
        at, thumb_id = latest[ctx.id]
        pin_at = aware(ctx.current_version_at)
        if ctx.id in pinned and pin_at is not None and not aware(at) > pin_at:
            thumb_id = pinned[ctx.id]
        out[ctx.id] = thumb_id
    return out


def update_context(
    session: Session,
    owner_id: uuid.UUID,
    context_id: uuid.UUID | str,
    *,
    name: str | None = None,
    conversation_model_id: str | None = None,
    codegen_model_id: str | None = None,
    units: str | None = None,
) -> ChatContext:
    ctx = get_context(session, owner_id, context_id)
    _check_models(conversation_model_id, codegen_model_id)
    if name is not None:
        ctx.name = _clean_name(name)
    if conversation_model_id is not None:
        ctx.conversation_model_id = conversation_model_id or None
    if codegen_model_id is not None:
        ctx.codegen_model_id = codegen_model_id or None
    if units is not None:
        if units not in _UNITS:
            raise InvalidInput("Units must be 'mm' or 'in'.")
        ctx.units = units
    ctx.updated_at = utcnow()
    session.add(ctx)
    session.flush()
    return ctx


def delete_context(session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str) -> list[str]:
    """Delete a chat with its items; return the storage paths of files no other item still references.

    The caller removes those files from disk after the transaction commits (never before: a rollback
    must not leave rows pointing at missing files).
    """
    ctx = get_context(session, owner_id, context_id)
    files = session.exec(select(StoredFile).where(StoredFile.context_id == ctx.id)).all()
    orphan_paths: list[str] = []
    for f in files:
        shared = session.exec(
            select(sa.func.count())
            .select_from(StoredFile)
            .where(
                StoredFile.storage_path == f.storage_path,
                StoredFile.id != f.id,
                sa.or_(col(StoredFile.context_id).is_(None), col(StoredFile.context_id) != ctx.id),
            )
        ).one()
        if not shared:
            orphan_paths.append(f.storage_path)
        session.delete(f)
    session.flush()
    session.delete(ctx)
    session.flush()
    return orphan_paths


def touch_context(session: Session, ctx: ChatContext) -> None:
    ctx.updated_at = utcnow()
    session.add(ctx)


def add_item(
    session: Session,
    ctx: ChatContext,
    role: ItemRole,
    segments: list[segments.Segment],
    *,
    regenerated_from_id: uuid.UUID | None = None,
) -> ChatItem:
    item = ChatItem(
        context_id=ctx.id,
        owner_id=ctx.owner_id,
        role=role.value,
        segments=segments,
        regenerated_from_id=regenerated_from_id,
    )
    session.add(item)
    touch_context(session, ctx)
    session.flush()
    return item


def get_item(
    session: Session, owner_id: uuid.UUID, item_id: uuid.UUID | str, context_id: uuid.UUID | str | None = None
) -> ChatItem:
    item = session.get(ChatItem, as_uuid(item_id, "message"))
    if (
        item is None
        or item.owner_id != owner_id
        or (context_id is not None and item.context_id != as_uuid(context_id, "chat"))
    ):
        raise NotFound("No such message.")
    return item


@dataclass
class ItemPage:
    items: list[ChatItem]
    total: int


def list_items(
    session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str, *, limit: int = 50, offset: int = 0
) -> ItemPage:
    """Items oldest first; `offset` counts from the start, so a client pages back from the end with total."""
    ctx = get_context(session, owner_id, context_id)
    total = session.exec(select(sa.func.count()).select_from(ChatItem).where(ChatItem.context_id == ctx.id)).one()
    rows = session.exec(
        select(ChatItem)
        .where(ChatItem.context_id == ctx.id)
        .order_by(col(ChatItem.created_at), col(ChatItem.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return ItemPage(items=list(rows), total=int(total))


def history(session: Session, ctx: ChatContext, *, before: datetime | None = None, limit: int = 40) -> list[ChatItem]:
    """The most recent items of a chat (oldest first), for the model's context window."""
    q = select(ChatItem).where(ChatItem.context_id == ctx.id)
    if before is not None:
        q = q.where(ChatItem.created_at < before)
    rows = session.exec(q.order_by(col(ChatItem.created_at).desc(), col(ChatItem.id).desc()).limit(limit)).all()
    return list(reversed(rows))


def rate_item(
    session: Session, owner_id: uuid.UUID, context_id: uuid.UUID | str, item_id: uuid.UUID | str, rating: int
) -> ChatItem:
    if rating not in (-1, 0, 1):
        raise InvalidInput("A rating is -1, 0 or 1.")
    item = get_item(session, owner_id, item_id, context_id)
    if item.role != ItemRole.assistant.value:
        raise InvalidInput("Only answers can be rated.")
    item.rating = rating
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    return item


def text_of(item: ChatItem) -> str:
    return segments.text_of(item.segments)


def model_segment(item: ChatItem) -> segments.ModelSegment | None:
    return segments.model_of(item.segments)


def _uuids(values: list[str]) -> list[uuid.UUID]:
    """The valid ids among `values` (a client's ids: anything else is skipped, never an error)."""
    out = []
    for v in values:
        try:
            out.append(as_uuid(v))
        except ValueError:
            continue
    return out


def query_states(session: Session, owner_id: uuid.UUID, query_ids: list[str]) -> dict[str, tuple[str, int]]:
    """The state and repair round of each of these queries the user owns (others are absent: not theirs)."""
    ids = _uuids(query_ids)
    if not ids:
        return {}
    rows = session.exec(select(Query).where(col(Query.id).in_(ids), Query.owner_id == owner_id)).all()
    return {str(r.id): (r.state, r.round) for r in rows}


def rerunnable_items(session: Session, item_ids: list[str]) -> set[str]:
    """Which of these answers have a request behind them that Regenerate can run again (the rule of
    `chat3d.pipeline.queries.regenerate`): an imported part or an edited version has none."""
    ids = _uuids(item_ids)
    if not ids:
        return set()
    rows = session.exec(
        select(Query.assistant_item_id, Query.regenerates_item_id).where(
            sa.or_(col(Query.assistant_item_id).in_(ids), col(Query.regenerates_item_id).in_(ids))
        )
    ).all()
    wanted = {str(i) for i in ids}
    return {str(v) for row in rows for v in row if v is not None and str(v) in wanted}

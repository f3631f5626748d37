"""/api/chat: chats (contexts) and their items. Thin over chat3d.domain.chats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import Field

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import CamelModel, Page, Paging
from chat3d.db.models import ChatContext
from chat3d.domain import chats
from chat3d.domain.files import remove_stored_paths

router = APIRouter(prefix="/api/chat", tags=["chat"])


class ContextOut(CamelModel):
    id: uuid.UUID
    name: str
    conversation_model_id: str | None
    codegen_model_id: str | None
    units: str
    created_at: datetime
    updated_at: datetime
    thumbnail_url: str | None = Field(
        default=None,
        description=(
            "The current version's isometric PNG thumbnail (`/api/files/{id}`, owner only); null until the chat has a model."
        ),
    )


def _context_out(ctx: ChatContext, thumbnails: dict[uuid.UUID, uuid.UUID | None]) -> ContextOut:
    out = ContextOut.model_validate(ctx)
    file_id = thumbnails.get(ctx.id)
    out.thumbnail_url = f"/api/files/{file_id}" if file_id else None
    return out


class ContextIn(CamelModel):
    name: str | None = Field(default=None, max_length=chats.MAX_NAME)
    conversation_model_id: str | None = Field(default=None, max_length=100)
    codegen_model_id: str | None = Field(default=None, max_length=100)
    units: Literal["mm", "in"] = "mm"


class ContextPatch(CamelModel):
    name: str | None = Field(default=None, max_length=chats.MAX_NAME)
    conversation_model_id: str | None = Field(default=None, max_length=100)
    codegen_model_id: str | None = Field(default=None, max_length=100)
    units: Literal["mm", "in"] | None = None


class ItemOut(CamelModel):
    id: uuid.UUID
    context_id: uuid.UUID
    role: str
    segments: list[dict[str, Any]]
    rating: int
    regenerated_from_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class RatingIn(CamelModel):
    rating: Literal[-1, 0, 1]


@router.get("/contexts")
def list_contexts(
    user: CurrentUser, session: DbSession, page: Paging, q: str = Query("", max_length=200)
) -> Page[ContextOut]:
    found = chats.list_contexts(session, user.id, search=q, limit=page.limit, offset=page.offset, thumbnails=True)
    return Page[ContextOut](items=[_context_out(c, found.thumbnails) for c in found.items], total=found.total)


@router.post("/contexts", status_code=201)
def create_context(body: ContextIn, user: CurrentUser, session: DbSession) -> ContextOut:
    ctx = chats.create_context(  # the domain checks the models
        session,
        user.id,
        name=body.name,
        conversation_model_id=body.conversation_model_id,
        codegen_model_id=body.codegen_model_id,
        units=body.units,
    )
    return ContextOut.model_validate(ctx)


@router.get("/contexts/{context_id}")
def get_context(context_id: str, user: CurrentUser, session: DbSession) -> ContextOut:
    ctx = chats.get_context(session, user.id, context_id)
    return _context_out(ctx, chats.current_thumbnails(session, [ctx]))


@router.patch("/contexts/{context_id}")
def update_context(context_id: str, body: ContextPatch, user: CurrentUser, session: DbSession) -> ContextOut:
    ctx = chats.update_context(  # the domain checks the models
        session,
        user.id,
        context_id,
        name=body.name,
        conversation_model_id=body.conversation_model_id,
        codegen_model_id=body.codegen_model_id,
        units=body.units,
    )
    return _context_out(ctx, chats.current_thumbnails(session, [ctx]))


@router.delete("/contexts/{context_id}", status_code=204)
def delete_context(context_id: str, user: CurrentUser, session: DbSession, background: BackgroundTasks) -> None:
    orphans = chats.delete_context(session, user.id, context_id)
    background.add_task(remove_stored_paths, orphans)  # runs after the response, i.e. after the commit


@router.get("/contexts/{context_id}/items")
def list_items(context_id: str, user: CurrentUser, session: DbSession, page: Paging) -> Page[ItemOut]:
    found = chats.list_items(session, user.id, context_id, limit=page.limit, offset=page.offset)
    return Page[ItemOut](items=[ItemOut.model_validate(i) for i in found.items], total=found.total)


@router.patch("/contexts/{context_id}/items/{item_id}")
def rate_item(context_id: str, item_id: str, body: RatingIn, user: CurrentUser, session: DbSession) -> ItemOut:
    return ItemOut.model_validate(chats.rate_item(session, user.id, context_id, item_id, body.rating))

"""/api/query: submit a prompt (202 at once; the work runs as a job), follow, cancel, regenerate."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks
from pydantic import Field
from sqlmodel import Session

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import CamelModel
from chat3d.db.models import ChatItem
from chat3d.domain import requirements, selection
from chat3d.domain.chats import MAX_PROMPT, model_segment
from chat3d.pipeline import queries
from chat3d.pipeline.jobs import enqueue_after_commit, get_jobs

router = APIRouter(prefix="/api/query", tags=["query"])


class SelectionIn(CamelModel):
    """Faces/edges picked in one of the chat's versions (ids from its `/topology`); the rows are looked up there."""

    version: str = Field(max_length=64)
    ids: list[Annotated[str, Field(max_length=12)]] = Field(max_length=selection.MAX_SELECTED)


class SubmitIn(CamelModel):
    context_id: str = Field(max_length=64)
    prompt: str = Field(max_length=MAX_PROMPT)
    attachments: list[str] = Field(default_factory=list, max_length=queries.MAX_ATTACHMENTS)
    conversation_model_id: str | None = Field(default=None, max_length=100)
    codegen_model_id: str | None = Field(default=None, max_length=100)
    selection: SelectionIn | None = None


class RegenerateIn(CamelModel):
    assistant_item_id: str = Field(max_length=64)
    codegen_model_id: str | None = Field(default=None, max_length=100)


class SubmittedOut(CamelModel):
    query_id: uuid.UUID
    user_item_id: uuid.UUID | None
    assistant_item_id: uuid.UUID


def _submitted(session: Session, sub: queries.Submitted) -> SubmittedOut:
    enqueue_after_commit(session, sub.query.id)  # the dependency commits before the answer goes out
    return SubmittedOut(
        query_id=sub.query.id,
        user_item_id=sub.user_item.id if sub.user_item else None,
        assistant_item_id=sub.assistant_item.id,
    )


@router.post("/submit", status_code=202)
def submit(body: SubmitIn, user: CurrentUser, session: DbSession) -> SubmittedOut:
    sub = queries.submit_query(
        session,
        user.id,
        body.context_id,
        body.prompt,
        attachments=body.attachments,
        conversation_model_id=body.conversation_model_id,
        codegen_model_id=body.codegen_model_id,
        selection=body.selection.model_dump() if body.selection else None,
    )
    return _submitted(session, sub)


@router.post("/regenerate", status_code=202)
def regenerate(body: RegenerateIn, user: CurrentUser, session: DbSession) -> SubmittedOut:
    sub = queries.regenerate(session, user.id, body.assistant_item_id, codegen_model_id=body.codegen_model_id)
    return _submitted(session, sub)


@router.get("/{query_id}")
def status(query_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    q = queries.get_query(session, user.id, query_id)
    item = session.get(ChatItem, q.assistant_item_id) if q.assistant_item_id else None
    model = model_segment(item) if item is not None else None
    rows = (model.get("requirements") if model is not None else None) or []
    # Issue 23: the checklist of the model this query made, per requirement and as one line.
    return queries.status_view(q) | {"requirements": rows, "checklist": requirements.summary(rows)}


async def _interrupt(query_id: uuid.UUID) -> None:
    await get_jobs().cancel(query_id)


@router.post("/{query_id}/cancel")
def cancel(query_id: str, user: CurrentUser, session: DbSession, background: BackgroundTasks) -> dict[str, Any]:
    q = queries.cancel(session, user.id, query_id)
    background.add_task(_interrupt, q.id)
    return queries.status_view(q)

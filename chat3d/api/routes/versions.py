"""Versions of a chat's model: re-render edited code or new parameter values, list, compare, restore, fork.

Thin over chat3d.pipeline.edits and chat3d.domain.versions. A program that fails to render is not an HTTP
error: the answer is 200 with `ok: false` and the render error (kind, message, line), nothing stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import CamelModel
from chat3d.domain import chats, selection, versions
from chat3d.domain.parameters import MAX_PARAMETERS, extract_parameters
from chat3d.pipeline import edits

router = APIRouter(prefix="/api/chat", tags=["versions"])


class RenderIn(CamelModel):
    code: str = Field(min_length=1, max_length=edits.MAX_CODE)


class ParametersIn(CamelModel):
    values: dict[str, float] = Field(min_length=1, max_length=MAX_PARAMETERS)


class ForkIn(CamelModel):
    item_id: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=chats.MAX_NAME)


@router.post("/items/{item_id}/render")
async def render_code(item_id: str, body: RenderIn, user: CurrentUser) -> dict[str, Any]:
    return (await edits.render_edit(user.id, item_id, body.code, origin="edited")).as_json()


@router.post("/items/{item_id}/parameters")
async def render_parameters(item_id: str, body: ParametersIn, user: CurrentUser) -> dict[str, Any]:
    return (await edits.render_parameters(user.id, item_id, body.values)).as_json()


@router.get("/items/{item_id}/parameters")
def list_parameters(item_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    _, model = versions.get_version(session, user.id, item_id)
    return {"items": [p.as_dict() for p in extract_parameters(str(model.get("code") or ""))]}


@router.get("/items/{item_id}/topology")
def get_topology(item_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """A version's faces and edges for picking in the viewer (issue 27): id, solid, type and words per row;
    empty lists for a version made before face tables existed."""
    table = selection.load_table(session, user.id, item_id)
    return {"version": item_id, **selection.viewer_rows(table or {})}


@router.get("/contexts/{context_id}/versions")
def list_versions(context_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    found = versions.list_versions(session, user.id, context_id)
    return {"items": [v.as_json() for v in found], "total": len(found)}


@router.get("/contexts/{context_id}/versions/compare")
def compare_versions(
    context_id: str,
    user: CurrentUser,
    session: DbSession,
    a: str = Query("", max_length=64),
    b: str = Query("", max_length=64),
) -> dict[str, Any]:
    chats.get_context(session, user.id, context_id)
    versions.get_version(session, user.id, a, context_id)
    return versions.compare(session, user.id, a, b)


@router.post("/contexts/{context_id}/versions/{item_id}/restore")
def restore_version(context_id: str, item_id: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    item = versions.restore(session, user.id, context_id, item_id)
    return {"contextId": context_id, "currentItemId": str(item.id)}


@router.post("/contexts/{context_id}/fork", status_code=201)
def fork_context(context_id: str, body: ForkIn, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    ctx = versions.fork(session, user.id, context_id, body.item_id, name=body.name)
    return {"id": str(ctx.id), "name": ctx.name}

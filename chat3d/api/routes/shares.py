"""Share links: the owner creates, lists and revokes them; anyone with a live token sees that one version.

The three `/api/share/...` routes are public on purpose (declared in chat3d/api/public_routes.py): the token
is the credential, and they expose only the shared version's metrics and files, its parts' files included
(chat3d.domain.shares).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import Field

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import CamelModel
from chat3d.api.security import stored_file_headers
from chat3d.domain import files, parts, shares
from chat3d.domain.errors import NotFound

router = APIRouter(tags=["shares"])


class ShareIn(CamelModel):
    title: str | None = Field(default=None, max_length=shares.MAX_TITLE)
    # Either a number of days or a moment (ISO 8601; without a zone it is UTC), or neither: never expires.
    expires_in_days: int | None = Field(default=None, ge=1, le=shares.MAX_EXPIRY_DAYS)
    expires_at: datetime | None = None


@router.post("/api/chat/items/{item_id}/share", status_code=201)
def create_share(item_id: str, body: ShareIn, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    created = shares.create_share(
        session, user.id, item_id, title=body.title, expires_in_days=body.expires_in_days, expires_at=body.expires_at
    )
    return {**shares.owner_view(created.share), "token": created.token, "url": f"/share/{created.token}"}


@router.get("/api/shares")
def list_shares(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    found = shares.list_shares(session, user.id)
    return {"items": [shares.owner_view(s) for s in found], "total": len(found)}


@router.delete("/api/shares/{share_id}", status_code=204)
def revoke_share(share_id: str, user: CurrentUser, session: DbSession) -> None:
    shares.revoke_share(session, user.id, share_id)


@router.get("/api/share/{token}")
def shared_version(token: str, session: DbSession) -> dict[str, Any]:
    share, _, model = shares.resolve(session, token, count_view=True)
    return shares.public_view(share, model)


@router.get("/api/share/{token}/files/{file_id}")
@router.head("/api/share/{token}/files/{file_id}", include_in_schema=False)
def shared_file(token: str, file_id: str, session: DbSession) -> FileResponse:
    row = shares.shared_file(session, token, file_id)
    path = files.absolute_path(row)
    if not path.is_file():
        raise NotFound("This file is no longer stored.")
    return FileResponse(
        path,
        media_type=row.content_type,
        headers={
            **stored_file_headers(row.format, row.filename),
            # Revocation must take effect at once: no shared caches, and browsers revalidate (Starlette answers a
            # revalidation with the full response, so a copy cached with older headers is replaced, never kept).
            "Cache-Control": "private, no-cache",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/api/share/{token}/parts/{number}/{fmt}")
@router.head("/api/share/{token}/parts/{number}/{fmt}", include_in_schema=False)
def shared_part(token: str, number: str, fmt: str, session: DbSession) -> Response:
    """One part's STL/STEP/3MF of the shared version (issue 27), named `model-lid.step` (no chat name)."""
    row, model, n = shares.shared_part(session, token, number, fmt)
    data = parts.read_part(row, n, fmt)
    ascii_name, utf8_name = parts.download_names(("model", "model"), parts.part_name(model, n), fmt)
    headers = stored_file_headers(fmt, utf8_name)
    headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name)}"
    return Response(
        data,
        media_type=files.CONTENT_TYPES[fmt],
        headers={**headers, "Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer"},
    )

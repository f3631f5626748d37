"""/api/files: image uploads (checked by content) and downloads of stored files, owner only."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, UploadFile
from fastapi.responses import FileResponse, Response

from chat3d.api.deps import CurrentUser, DbSession
from chat3d.api.schemas import CamelModel
from chat3d.api.security import stored_file_headers
from chat3d.db.models import ChatItem, FileKind
from chat3d.domain import files, parts, versions
from chat3d.domain.errors import InvalidInput

router = APIRouter(prefix="/api/files", tags=["files"])


class FileOut(CamelModel):
    id: uuid.UUID
    format: str
    filename: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime


@router.post("", status_code=201)
async def upload(file: UploadFile, user: CurrentUser, session: DbSession) -> FileOut:
    # A body over the cap never gets here (chat3d.api.security.BodySizeLimitMiddleware).
    data = await file.read(files.MAX_UPLOAD_BYTES + 1)
    fmt = files.validate_image_upload(data)
    name = files.safe_filename(file.filename or "", f"image.{fmt}")
    row = files.store_bytes(session, user.id, data, fmt=fmt, filename=name, kind=FileKind.upload)
    return FileOut.model_validate(row)


@router.get("/{file_id}")
@router.head("/{file_id}", include_in_schema=False)
def download(file_id: str, user: CurrentUser, session: DbSession) -> FileResponse:
    row = files.get_file(session, user.id, file_id)
    path = files.absolute_path(row)
    if not path.is_file():
        raise InvalidInput("This file is no longer stored.")
    headers = stored_file_headers(row.format, row.filename)
    cache = "private, max-age=31536000, immutable"
    named = versions.download_names(session, row)
    if named is not None and headers["Content-Disposition"].startswith("attachment"):
        # A version's download is named after the chat and version (`flange-v3.step`, not `model.step`): an ASCII
        # fallback plus the RFC 5987 UTF-8 name. Revalidated, not immutable: the name follows a renamed chat.
        ascii_name, utf8_name = named
        headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name)}"
        cache = "private, no-cache"
    # Copies cached under the old, inline headers are purged once per browser (chat3d.api.security.CACHE_EPOCH).
    return FileResponse(path, media_type=row.content_type, headers={**headers, "Cache-Control": cache})


@router.get("/{file_id}/parts/{number}/{fmt}")
@router.head("/{file_id}/parts/{number}/{fmt}", include_in_schema=False)
def download_part(file_id: str, number: str, fmt: str, user: CurrentUser, session: DbSession) -> Response:
    """One part's STL/STEP/3MF out of a version's parts.zip (issue 27), named `flange-v3-lid.step`."""
    row = files.get_file(session, user.id, file_id)
    n = parts.part_number(number, fmt)
    data = parts.read_part(row, n, fmt)
    model = None
    if row.item_id is not None:
        item = session.get(ChatItem, row.item_id)
        model = versions.model_of(item) if item is not None and item.owner_id == user.id else None
    stems = versions.download_stems(session, row.context_id, row.item_id) if row.context_id and row.item_id else None
    ascii_name, utf8_name = parts.download_names(stems or ("model", "model"), parts.part_name(model, n), fmt)
    headers = stored_file_headers(fmt, utf8_name)
    headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name)}"
    return Response(
        data, media_type=files.CONTENT_TYPES[fmt], headers={**headers, "Cache-Control": "private, no-cache"}
    )


@router.delete("/{file_id}", status_code=204)
def delete(file_id: str, user: CurrentUser, session: DbSession, background: BackgroundTasks) -> None:
    path = files.delete_file(session, user.id, file_id)
    background.add_task(files.remove_stored_paths, [path])

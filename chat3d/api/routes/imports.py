"""/api/chat/import: start a chat from a STEP or STL file (or add it to one). Thin over chat3d.pipeline.imports.

The file is recognised by its content, capped by IMPORT_MAX_BYTES (a larger body is refused before it is
read, chat3d.api.security.BodySizeLimitMiddleware), and rendered by the sandboxed render service. A file
the service cannot build a part from is a 422 with its specific message; nothing is stored then.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, UploadFile

from chat3d.api.deps import CurrentUser
from chat3d.domain import imports as import_rules
from chat3d.pipeline import imports

router = APIRouter(prefix="/api/chat", tags=["chat"])


@router.post("/import", status_code=201)
async def import_model(
    file: UploadFile, user: CurrentUser, context_id: str | None = Form(default=None, alias="contextId", max_length=64)
) -> dict[str, Any]:
    """Multipart `file` (STEP/STL); optional `contextId` adds the imported version to that chat instead."""
    data = await file.read(import_rules.max_bytes() + 1)
    result = await imports.import_file(user.id, data, file.filename or "", context_id=context_id or None)
    return result.as_json()

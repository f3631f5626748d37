"""Import a STEP/STL file: check it, render its loader program with the file attached, store the version.

Like an edit (chat3d.pipeline.edits), the render runs outside any transaction and nothing is stored when
it fails: the person gets the render service's specific message (a damaged STEP says so) and no chat,
item or file is left behind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from sqlmodel import Session

from chat3d.db.engine import in_session
from chat3d.domain import chats, files, imports
from chat3d.domain.errors import DomainError
from chat3d.pipeline import rendering
from chat3d.pipeline.edits import RenderServiceDown
from chat3d.services.render_client import RenderClient, RenderFailure, RenderSuccess, RenderUnavailable

log = logging.getLogger(__name__)


class ImportFailed(DomainError):
    """The file passed the content check but the render service could not build a part from it."""

    status = 422


@dataclass
class ImportResult:
    context_id: str
    item_id: str
    name: str
    format: str
    metrics: dict

    def as_json(self) -> dict:
        return {
            "contextId": self.context_id,
            "itemId": self.item_id,
            "name": self.name,
            "format": self.format,
            "metrics": self.metrics,
        }


async def import_file(
    owner_id: uuid.UUID,
    data: bytes,
    filename: str,
    *,
    context_id: uuid.UUID | str | None = None,
    client: RenderClient | None = None,
) -> ImportResult:
    """Validate by content, render with the file attached, then store a new chat (or a new version in
    `context_id`) whose current version is the imported part."""
    fmt = imports.validate_cad_upload(data)
    if fmt == "stl" and not imports.is_binary_stl(data):
        data = await asyncio.to_thread(imports.ascii_stl_to_binary, data)
    display = files.safe_filename(filename or "", f"imported.{fmt}")
    name = imports.input_name(display, fmt)
    code = imports.program_for(fmt, name)
    if context_id is not None:

        def check_owner(session: Session) -> None:
            chats.get_context(session, owner_id, context_id)

        await in_session(check_owner)
    try:
        result = await rendering.render(client or RenderClient(), code, owner_id=owner_id, inputs=[(name, data)])
    except RenderUnavailable as exc:
        # The service's own words (an HTTP status, its field rules) mean nothing to the person importing: log them.
        log.warning("import of %s: render service unavailable: %s", display, exc)
        raise RenderServiceDown(
            f"{display} could not be imported right now: the model service is unavailable. "
            "Nothing was saved; try again in a minute."
        ) from None
    if isinstance(result, RenderFailure):
        if result.kind == "timeout":
            message = (
                f"{display} took too long to load; a mesh with very many triangles is slow to turn into a "
                "solid. Try a simpler or decimated file, or a STEP export."
            )
        elif result.kind == "import":
            message = f"{display} could not be imported: {result.message}"
        else:
            message = f"{display} could not be turned into a part: {result.message}"
        raise ImportFailed(message, {"kind": result.kind})
    assert isinstance(result, RenderSuccess)

    def store(session: Session, written: rendering.Written) -> ImportResult:
        rec = imports.record_import(
            session,
            owner_id,
            source=written.extra[0],
            fmt=fmt,
            display_name=display,
            name=name,
            code=code,
            record_outputs=lambda ctx, item: written.record(session, context_id=ctx.id, item_id=item.id),
            metrics=result.metrics,
            context_id=context_id,
        )
        return ImportResult(
            context_id=str(rec.context.id), item_id=str(rec.item.id), name=display, format=fmt, metrics=result.metrics
        )

    imported = await rendering.store(owner_id, result, store, extra=[(data, fmt)])
    assert imported is not None
    return imported

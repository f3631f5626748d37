"""Render a program and store what came back: the one path the runner, edits and imports share.

A render runs outside any transaction, and `render` returns only what the app keeps (`kept_outputs`). `store`
then writes the files (in parallel, each fsynced) before one short transaction of the caller's, which records
their rows with `Written.record` and whatever else it stores; files that no row came to hold (the transaction
failed, or declined by returning None) are removed again, so a failure leaves nothing on disk.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session

from chat3d.db.engine import in_session
from chat3d.db.models import FileKind
from chat3d.domain import files, parts, requirements, segments
from chat3d.services.render_client import RenderClient, RenderedFile, RenderFailure, RenderSuccess

T = TypeVar("T")

# png: the version thumbnail, drawn by the render service's trusted post step (SVG thumbnails are retired:
# a program could write one). py: the program we sent, stored from our own copy (see kept_outputs).
# topology: the face/edge table. parts: parts.zip, each part's STL/STEP/3MF (issue 27), made only for a result of
# several solids (the service then simply returns no such file).
MODEL_FORMATS = ("stl", "step", "3mf", "glb", "py", "png", "topology", "parts")
# views: the review sheet (issue 23 item 2), asked for only when a vision model will review the part, and kept
# with the version as what the reviewer saw.
VIEWS_FORMAT = "views"
KEPT_FORMATS = (*MODEL_FORMATS, VIEWS_FORMAT)
METRIC_KEYS = ("bbox_size_mm", "bbox_min_mm", "bbox_max_mm", "volume_mm3", "solids", "valid", "features", "parts")


def checked_metrics(raw: Any) -> dict:
    """The render's metrics as the app keeps them: only the values the post step computes from the
    geometry (size, extent, volume, solid count, validity), each type-checked; anything else is dropped."""
    raw = raw if isinstance(raw, dict) else {}

    def vec(v: Any) -> list[float] | None:
        if (
            isinstance(v, list)
            and len(v) == 3
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        ):
            return [float(x) for x in v]
        return None

    out: dict[str, Any] = {k: vec(raw.get(k)) for k in ("bbox_size_mm", "bbox_min_mm", "bbox_max_mm")}
    vol = raw.get("volume_mm3")
    out["volume_mm3"] = (
        float(vol)
        if isinstance(vol, (int, float)) and not isinstance(vol, bool) and math.isfinite(vol) and vol >= 0
        else None
    )
    solids = raw.get("solids")
    out["solids"] = solids if isinstance(solids, int) and not isinstance(solids, bool) and solids >= 0 else None
    out["valid"] = raw.get("valid") if isinstance(raw.get("valid"), bool) else None
    out["features"] = requirements.checked_features(raw.get("features"))  # issue 23: holes, bosses, walls
    out["parts"] = parts.checked_parts(raw.get("parts"))  # issue 27: named parts, each measured
    return out


def kept_outputs(result: RenderSuccess, code: str) -> RenderSuccess:
    """What the app stores from a successful render: the formats it asked for, each once, the `py` file
    being the code the app submitted (never bytes read back from the job), and checked metrics."""
    kept: dict[str, RenderedFile] = {}
    for f in result.files:
        if f.format in KEPT_FORMATS and f.format not in kept:
            kept[f.format] = f
    source = code.encode()
    kept["py"] = RenderedFile(format="py", filename="model.py", data=source)
    return RenderSuccess(
        files=[kept[fmt] for fmt in KEPT_FORMATS if fmt in kept],
        metrics=checked_metrics(result.metrics),
        log=result.log,
    )


async def render(
    client: RenderClient,
    code: str,
    *,
    owner_id: uuid.UUID,
    formats: tuple[str, ...] = MODEL_FORMATS,
    inputs: list[tuple[str, bytes]] | None = None,
) -> RenderSuccess | RenderFailure:
    """Render `code` (with the files it reads); a success holds only what the app keeps. `RenderUnavailable`
    passes through: each caller words it for its own audience."""
    result = await client.render(code, formats=formats, user_id=str(owner_id), inputs=inputs or None)
    return kept_outputs(result, code) if isinstance(result, RenderSuccess) else result


@dataclass
class Written:
    """A render's files on disk, waiting for the rows that make them part of a chat."""

    owner_id: uuid.UUID
    outputs: list[tuple[RenderedFile, files.Blob]]
    extra: list[files.Blob]  # files written alongside, in the order given to `store` (an import's source)

    def record(
        self,
        session: Session,
        *,
        context_id: uuid.UUID,
        item_id: uuid.UUID | None = None,
        query_id: uuid.UUID | None = None,
    ) -> list[segments.FileRef]:
        """The rendered files' rows, in the caller's transaction; their refs for the model segment."""
        return [
            segments.file_ref(
                files.record_blob(
                    session,
                    self.owner_id,
                    blob,
                    fmt=f.format,
                    filename=f.filename,
                    kind=FileKind.model,
                    context_id=context_id,
                    item_id=item_id,
                    query_id=query_id,
                )
            )
            for f, blob in self.outputs
        ]

    def paths(self) -> list[str]:
        return [b.storage_path for b in self.extra] + [b.storage_path for _, b in self.outputs]


async def store(
    owner_id: uuid.UUID,
    result: RenderSuccess,
    transaction: Callable[[Session, Written], T | None],
    *,
    extra: Sequence[tuple[bytes, str]] = (),
) -> T | None:
    """Write the render's files (and `extra` (bytes, format) files), then run `transaction` in one session.
    Its None means it kept nothing (the query was cancelled meanwhile): the files are removed, as on an error."""
    blobs = await asyncio.gather(
        *(asyncio.to_thread(files.write_blob, owner_id, data, fmt) for data, fmt in extra),
        *(asyncio.to_thread(files.write_blob, owner_id, f.data, f.format) for f in result.files),
    )
    written = Written(owner_id, list(zip(result.files, blobs[len(extra) :])), list(blobs[: len(extra)]))
    try:
        kept = await in_session(lambda session: transaction(session, written))
    except Exception:
        await asyncio.to_thread(files.remove_stored_paths, written.paths())
        raise
    if kept is None:
        await asyncio.to_thread(files.remove_stored_paths, written.paths())
    return kept

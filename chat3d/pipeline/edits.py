"""The user's own changes to a version: edited code or new parameter values, re-rendered without a model call.

Two steps, so a change can be looked at before it is kept:
- `preview_edit` / `preview_parameters` render the change and store its files for the viewer, attached to no
  version (a `Preview`); nothing in the chat changes. `discard_preview` deletes them; a preview nobody kept
  or discarded is pruned by housekeeping (`chat3d.domain.retention.prune_unkept_previews`). A slider's
  preview asks only for what the viewer shows (`PREVIEW_FORMATS`: the GLB, tagged with its faces and edges,
  and their table), so dragging costs no STEP, STL, 3MF or thumbnail export.
- `keep_preview` turns a preview into a new assistant item (a new version) whose model segment says who
  made it (`"editedBy": "you"`, `"origin": "edited" | "parameters"`), linked to the source version through
  `regenerated_from_id`, and makes it the chat's current version, so the next prompt iterates on it. A preview
  of the viewer's files only is rendered again with every format first; if that render fails, or its GLB is
  not byte for byte the one the person looked at, nothing is stored and `KeepFailed` says why.

`render_edit` / `render_parameters` do both at once (the REST routes and the Code tab's "Render"). A program
that fails to render stores nothing: the error (kind, message, line) goes back to the caller and the previous
version stays current. The render runs outside any database transaction; only short reads/writes hold one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.engine import in_session
from chat3d.db.models import ChatContext, ChatItem, ItemRole, StoredFile, table_of
from chat3d.domain import chats, files, imports, requirements, segments, versions
from chat3d.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from chat3d.domain.parameters import apply_parameters, extract_parameters, format_value
from chat3d.events.store import record_item_updated
from chat3d.pipeline import rendering
from chat3d.services.render_client import RenderClient, RenderFailure, RenderSuccess, RenderUnavailable

Origin = Literal["edited", "parameters"]
MAX_CODE = 100_000
# What the viewer shows of a preview: the GLB (its faces and edges tagged, as a kept version's) and faces.json.
PREVIEW_FORMATS = ("glb", "topology")


class RenderServiceDown(DomainError):
    """The render service could not be reached; nothing is wrong with the program."""

    status = 503


class KeepFailed(Conflict):
    """Keeping a preview rendered it again with every format, and that render failed or drew another model."""


@dataclass
class EditResult:
    ok: bool
    item_id: str | None = None
    context_id: str | None = None
    metrics: dict = field(default_factory=dict)
    error: dict | None = None  # {"kind", "message", "line"} when the program did not render
    requirements: list[dict] = field(default_factory=list)  # issue 23: the source's requirements, re-checked

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "itemId": self.item_id,
            "contextId": self.context_id,
            "metrics": self.metrics,
            "error": self.error,
            "requirements": self.requirements,
        }


@dataclass
class Preview:
    """A change that rendered but is not a version yet. Its files are the owner's, in the source's chat, and
    attached to no item; it is held by whoever asked for it (the workbench's backend state) until kept."""

    owner_id: uuid.UUID
    source_item_id: str
    context_id: str
    code: str
    origin: Origin
    values: dict[str, float]
    metrics: dict
    files: list[segments.FileRef]
    # Issue 23: the source version's requirements, checked again on this render's measurements (no views).
    requirement_spec: list[dict] = field(default_factory=list)
    requirements: list[dict] = field(default_factory=list)
    complete: bool = True  # rendered with every format a version keeps (False: PREVIEW_FORMATS only)

    def file_id(self, fmt: str) -> str:
        return next((f["id"] for f in self.files if f["format"] == fmt), "")


def _describe_changes(code_before: str, values: dict[str, float]) -> str:
    params = {p.name: p for p in extract_parameters(code_before)}
    parts = []
    for name, value in values.items():
        p = params.get(name)
        unit = f" {p.unit}" if p and p.unit and p.unit != "count" else ""
        parts.append(f"{name.replace('_', ' ')} to {format_value(float(value), bool(p and p.integer))}{unit}")
    return "You set " + ", ".join(parts) + "." if parts else "You re-rendered the model."


def _check_code(code: str) -> None:
    if not code or not code.strip():
        raise InvalidInput("The program is empty.")
    if len(code) > MAX_CODE:
        raise InvalidInput(f"A program can have at most {MAX_CODE:,} characters.")


async def _render_change(
    owner_id: uuid.UUID,
    assistant_item_id: uuid.UUID | str,
    code: str,
    formats: tuple[str, ...],
    client: RenderClient | None,
) -> tuple[uuid.UUID, list[dict], RenderSuccess | RenderFailure]:
    """Render `code` as a change of the given version (with the files its program reads): the version's chat,
    its requirements and the render's result."""

    def load(session: Session) -> tuple[uuid.UUID, list[tuple[str, bytes]], list[dict]]:
        item, model = versions.get_version(session, owner_id, assistant_item_id)
        chats.get_context(session, owner_id, item.context_id)
        # An imported file the source version reads goes along with the edited program too.
        return (
            item.context_id,
            imports.load_inputs(session, owner_id, imports.inputs_of(model)),
            requirements.spec_of(model),
        )

    context_id, input_files, spec = await in_session(load)
    try:
        result = await rendering.render(
            client or RenderClient(), code, owner_id=owner_id, formats=formats, inputs=input_files
        )
    except RenderUnavailable as exc:
        raise RenderServiceDown(str(exc)) from None
    return context_id, spec, result


async def preview_edit(
    owner_id: uuid.UUID,
    assistant_item_id: uuid.UUID | str,
    code: str,
    *,
    origin: Origin = "edited",
    values: dict[str, float] | None = None,
    client: RenderClient | None = None,
    formats: tuple[str, ...] = rendering.MODEL_FORMATS,
) -> Preview | EditResult:
    """Render `code` as a change of the given version and store its files unattached: a `Preview`, or a
    failed `EditResult` (nothing stored) when the program does not render. `formats`: PREVIEW_FORMATS for a
    preview that may never be kept (it is rendered again in full when it is)."""
    if origin not in ("edited", "parameters"):
        raise InvalidInput("Unknown kind of edit.")
    _check_code(code)
    context_id, spec, result = await _render_change(owner_id, assistant_item_id, code, formats, client)
    if isinstance(result, RenderFailure):
        return EditResult(
            ok=False,
            context_id=str(context_id),
            error={"kind": result.kind, "message": result.message, "line": result.line},
        )
    assert isinstance(result, RenderSuccess)
    # Unattached (no item) until kept: the files are the preview's.
    refs = await rendering.store(
        owner_id, result, lambda session, written: written.record(session, context_id=context_id)
    )
    assert refs is not None  # the transaction above always keeps the files (it never returns None)
    return Preview(
        owner_id=owner_id,
        source_item_id=str(assistant_item_id),
        context_id=str(context_id),
        code=code,
        origin=origin,
        values=dict(values or {}),
        metrics=result.metrics,
        files=refs,
        requirement_spec=spec,
        requirements=requirements.check(spec, result.metrics),
        complete=set(formats) >= set(rendering.MODEL_FORMATS),
    )


def _unkept_rows(session: Session, preview: Preview) -> list[StoredFile]:
    ids = [uuid.UUID(f["id"]) for f in preview.files]
    rows = list(session.exec(select(StoredFile).where(col(StoredFile.id).in_(ids))).all()) if ids else []
    if len(rows) != len(ids) or any(r.owner_id != preview.owner_id or r.item_id is not None for r in rows):
        raise NotFound("This preview is no longer available; change the value again.")
    return rows


async def keep_preview(preview: Preview, *, client: RenderClient | None = None) -> EditResult:
    """Store a preview as a new version, which becomes the chat's current version. A complete preview's files
    join it as they are. A preview of the viewer's files only is first rendered again with every format; that
    render's files are kept (and the preview's deleted) only if its GLB is byte for byte the one shown."""
    if preview.complete:

        def attach(session: Session, item: ChatItem, ctx: ChatContext) -> list[segments.FileRef]:
            for row in _unkept_rows(session, preview):
                row.item_id, row.context_id = item.id, ctx.id
                session.add(row)
            return preview.files

        return await in_session(
            lambda session: _new_version(session, preview, attach, preview.metrics, preview.requirements)
        )
    _, _, result = await _render_change(
        preview.owner_id, preview.source_item_id, preview.code, rendering.MODEL_FORMATS, client
    )
    if isinstance(result, RenderFailure):
        raise KeepFailed(
            f"Nothing was kept: rendering the preview with every file format failed ({result.message}). "
            "Change the value again, or discard the preview.",
            {"kind": result.kind, "line": result.line},
        )

    def keep(session: Session, written: rendering.Written) -> tuple[EditResult, list[str]]:
        shown = next((row for row in _unkept_rows(session, preview) if row.format == "glb"), None)
        full = next((blob for f, blob in written.outputs if f.format == "glb"), None)
        if shown is None or full is None or shown.sha256 != full.sha256:
            raise KeepFailed(
                "Nothing was kept: rendering the preview again with every file format gave a "
                "different 3D model from the one shown. Change the value again, or discard the preview."
            )
        kept = _new_version(
            session,
            preview,
            lambda s, item, ctx: written.record(s, context_id=ctx.id, item_id=item.id),
            result.metrics,
            requirements.check(preview.requirement_spec, result.metrics),
        )
        return kept, discard_preview_files(session, preview)  # the preview's own files: replaced

    stored = await rendering.store(preview.owner_id, result, keep)
    assert stored is not None  # `keep` keeps or raises
    kept, replaced = stored
    await asyncio.to_thread(files.remove_stored_paths, replaced)
    return kept


def _new_version(
    session: Session,
    preview: Preview,
    attach: Callable[[Session, ChatItem, ChatContext], list[segments.FileRef]],
    metrics: dict,
    checked: list[dict],
) -> EditResult:
    """The preview as a new assistant item of its source's chat, made current; `attach` gives it its files."""
    owner_id = preview.owner_id
    source, model = versions.get_version(session, owner_id, preview.source_item_id)
    ctx = chats.get_context(session, owner_id, source.context_id)
    item = chats.add_item(session, ctx, ItemRole.assistant, [], regenerated_from_id=source.id)
    refs = attach(session, item, ctx)
    text = (
        _describe_changes(str(model.get("code") or ""), preview.values)
        if preview.origin == "parameters"
        else "You edited the program and re-rendered it."
    )
    brief = str(model.get("brief") or "")
    # A tool call the conversation model sees in later turns: what changed and the new size.
    call = segments.tool_call(
        f"edit_{item.id.hex[:16]}", {"brief": (brief + "\n\n" if brief else "") + f"(Then changed by the user: {text})"}
    )
    item.segments = [
        segments.text(text),
        segments.model(
            files=refs,
            metrics=metrics,
            code=preview.code,
            brief=brief,
            call=call,
            edited_by="you",
            origin=preview.origin,
            source_item_id=str(source.id),
            parameters=preview.values,
            inputs=imports.inputs_of(model),
            requirements=checked,
            requirement_spec=preview.requirement_spec,
        ),
    ]
    session.add(item)
    versions.set_current(session, ctx, item)
    session.flush()
    record_item_updated(session, item)
    return EditResult(ok=True, item_id=str(item.id), context_id=str(ctx.id), metrics=metrics, requirements=checked)


def discard_preview_files(session: Session, preview: Preview) -> list[str]:
    """Delete a preview's rows (only while no version holds them); return the paths to remove after commit."""
    ids = [uuid.UUID(f["id"]) for f in preview.files]
    if not ids:
        return []
    table = table_of(StoredFile)
    t = table.c
    gone = session.execute(
        sa.delete(table)
        .where(t.id.in_(ids), t.owner_id == preview.owner_id, t.item_id.is_(None))
        .returning(t.storage_path)
    )
    return [row[0] for row in gone]


async def discard_preview(preview: Preview) -> None:
    paths = await in_session(lambda s: discard_preview_files(s, preview))
    await asyncio.to_thread(files.remove_stored_paths, paths)


async def _keep(preview: Preview | EditResult) -> EditResult:
    """Keep a fresh preview as a version at once (a failed render passes through); its files go if that fails."""
    if isinstance(preview, EditResult):
        return preview
    try:
        return await keep_preview(preview)
    except Exception:
        await discard_preview(preview)
        raise


async def render_edit(
    owner_id: uuid.UUID,
    assistant_item_id: uuid.UUID | str,
    code: str,
    *,
    origin: Origin = "edited",
    values: dict[str, float] | None = None,
    client: RenderClient | None = None,
) -> EditResult:
    """Render `code` and keep it as a new version of the given version; nothing is stored when it fails."""
    return await _keep(
        await preview_edit(owner_id, assistant_item_id, code, origin=origin, values=values, client=client)
    )


def _parameter_code(
    session: Session, owner_id: uuid.UUID, assistant_item_id: uuid.UUID | str, values: dict[str, float]
) -> str:
    """The version's program with `values` set (each checked against its declared range)."""
    if not values:
        raise InvalidInput("Choose at least one parameter to change.")
    _, model = versions.get_version(session, owner_id, assistant_item_id)
    code = str(model.get("code") or "")
    if not code:
        raise InvalidInput("This version has no program to change.")
    return apply_parameters(code, values)


async def preview_parameters(
    owner_id: uuid.UUID,
    assistant_item_id: uuid.UUID | str,
    values: dict[str, float],
    *,
    client: RenderClient | None = None,
    formats: tuple[str, ...] = PREVIEW_FORMATS,
) -> Preview | EditResult:
    """Render a version with new parameter values, not kept yet (the workbench's sliders): `formats` defaults to
    what the viewer shows (`keep_preview` renders the rest)."""
    code = await in_session(lambda s: _parameter_code(s, owner_id, assistant_item_id, values))
    return await preview_edit(
        owner_id, assistant_item_id, code, origin="parameters", values=values, client=client, formats=formats
    )


async def render_parameters(
    owner_id: uuid.UUID,
    assistant_item_id: uuid.UUID | str,
    values: dict[str, float],
    *,
    client: RenderClient | None = None,
) -> EditResult:
    """Set parameters of a version's program (checked against their ranges), render and keep the result."""
    return await _keep(
        await preview_parameters(owner_id, assistant_item_id, values, client=client, formats=rendering.MODEL_FORMATS)
    )

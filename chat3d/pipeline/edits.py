"""The user's own changes to a version: edited code or new parameter values, re-rendered without a model call.

A successful render appends a new assistant item (a new version) whose model segment says who made it
(`"editedBy": "you"`, `"origin": "edited" | "parameters"`), linked to the source version through
`regenerated_from_id`, and makes it the chat's current version, so the next prompt iterates on it. A
program that fails to render appends nothing: the error (kind, message, line) goes back to the caller and
the previous version stays current.

The render runs outside any database transaction; only the two short reads/writes around it hold one.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Callable, Literal, TypeVar

from sqlmodel import Session

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatItem, FileKind, ItemRole
from chat3d.domain import chats, files, imports, versions
from chat3d.domain.errors import DomainError, InvalidInput
from chat3d.domain.parameters import apply_parameters, extract_parameters, format_value
from chat3d.events import types as ev
from chat3d.events.store import record_event
from chat3d.pipeline.runner import MODEL_FORMATS
from chat3d.services.render_client import RenderClient, RenderFailure, RenderSuccess, RenderUnavailable

T = TypeVar("T")
Origin = Literal["edited", "parameters"]
MAX_CODE = 100_000


class RenderServiceDown(DomainError):
    """The render service could not be reached; nothing is wrong with the program."""

    status = 503


@dataclass
class EditResult:
    ok: bool
    item_id: str | None = None
    context_id: str | None = None
    metrics: dict = field(default_factory=dict)
    error: dict | None = None  # {"kind", "message", "line"} when the program did not render

    def as_json(self) -> dict:
        return {"ok": self.ok, "itemId": self.item_id, "contextId": self.context_id, "metrics": self.metrics,
                "error": self.error}


async def _db(fn: Callable[[Session], T]) -> T:
    def run() -> T:
        with session_scope() as session:
            return fn(session)

    return await asyncio.to_thread(run)


def _source(session: Session, owner_id: uuid.UUID, item_id: uuid.UUID | str) -> tuple[ChatItem, dict]:
    item, model = versions.get_version(session, owner_id, item_id)
    return item, model


def _describe_changes(code_before: str, values: dict[str, float]) -> str:
    params = {p.name: p for p in extract_parameters(code_before)}
    parts = []
    for name, value in values.items():
        p = params.get(name)
        unit = f" {p.unit}" if p and p.unit and p.unit != "count" else ""
        parts.append(f"{name.replace('_', ' ')} to {format_value(float(value), bool(p and p.integer))}{unit}")
    return "You set " + ", ".join(parts) + "." if parts else "You re-rendered the model."


async def render_edit(
    owner_id: uuid.UUID, assistant_item_id: uuid.UUID | str, code: str, *, origin: Origin = "edited",
    values: dict[str, float] | None = None, client: RenderClient | None = None,
) -> EditResult:
    """Render `code` as a new version of the given version; nothing is stored when it fails."""
    if origin not in ("edited", "parameters"):
        raise InvalidInput("Unknown kind of edit.")
    if not code or not code.strip():
        raise InvalidInput("The program is empty.")
    if len(code) > MAX_CODE:
        raise InvalidInput(f"A program can have at most {MAX_CODE:,} characters.")

    def load(session: Session) -> tuple[uuid.UUID, dict, list[tuple[str, bytes]]]:
        item, model = _source(session, owner_id, assistant_item_id)
        chats.get_context(session, owner_id, item.context_id)
        # An imported file the source version reads goes along with the edited program too.
        return item.context_id, dict(model), imports.load_inputs(session, owner_id, imports.inputs_of(model))

    context_id, source_model, input_files = await _db(load)
    try:
        result = await (client or RenderClient()).render(code, formats=MODEL_FORMATS, user_id=str(owner_id),
                                                          inputs=input_files or None)
    except RenderUnavailable as exc:
        raise RenderServiceDown(str(exc)) from None
    if isinstance(result, RenderFailure):
        return EditResult(ok=False, context_id=str(context_id),
                          error={"kind": result.kind, "message": result.message, "line": result.line})
    assert isinstance(result, RenderSuccess)
    blobs = await asyncio.gather(*(asyncio.to_thread(files.write_blob, owner_id, f.data, f.format) for f in result.files))
    text = _describe_changes(str(source_model.get("code") or ""), values or {}) if origin == "parameters" else \
        "You edited the program and re-rendered it."

    def store(session: Session) -> EditResult:
        source, model = _source(session, owner_id, assistant_item_id)
        ctx = chats.get_context(session, owner_id, source.context_id)
        item = chats.add_item(session, ctx, ItemRole.assistant, [], regenerated_from_id=source.id)
        refs = []
        for f, blob in zip(result.files, blobs):
            row = files.record_blob(session, owner_id, blob, fmt=f.format, filename=f.filename, kind=FileKind.model,
                                    context_id=ctx.id, item_id=item.id)
            refs.append({"id": str(row.id), "format": row.format, "filename": row.filename, "size": row.size})
        brief = str(model.get("brief") or "")
        # A tool call the conversation model sees in later turns: what changed and the new size.
        call = {"id": f"edit_{item.id.hex[:16]}", "arguments": {
            "brief": (brief + "\n\n" if brief else "") + f"(Then changed by the user: {text})",
        }}
        item.segments = [
            {"type": "text", "text": text},
            {"type": "model", "files": refs, "metrics": result.metrics, "code": code, "brief": brief,
             "expectedBboxMm": None, "toolCall": call, "warnings": [], "editedBy": "you", "origin": origin,
             "sourceItemId": str(source.id), **({"parameters": dict(values)} if values else {}),
             **({"inputs": imports.inputs_of(model)} if imports.inputs_of(model) else {})},
        ]
        session.add(item)
        versions.set_current(session, ctx, item)
        session.flush()
        record_event(session, owner_id, ev.CHAT_ITEM_UPDATED, {"contextId": str(ctx.id), "itemId": str(item.id), "role": item.role})
        return EditResult(ok=True, item_id=str(item.id), context_id=str(ctx.id), metrics=result.metrics)

    try:
        return await _db(store)
    except Exception:
        await asyncio.to_thread(files.remove_stored_paths, [b.storage_path for b in blobs])
        raise


async def render_parameters(
    owner_id: uuid.UUID, assistant_item_id: uuid.UUID | str, values: dict[str, float], *, client: RenderClient | None = None,
) -> EditResult:
    """Set parameters of a version's program (checked against their ranges) and render the result."""
    if not values:
        raise InvalidInput("Choose at least one parameter to change.")

    def load(session: Session) -> str:
        _, model = _source(session, owner_id, assistant_item_id)
        return str(model.get("code") or "")

    code = await _db(load)
    if not code:
        raise InvalidInput("This version has no program to change.")
    new_code = apply_parameters(code, values)
    return await render_edit(owner_id, assistant_item_id, new_code, origin="parameters", values=values, client=client)

"""Chat item segments: the typed parts of a chat item's `segments` JSON, and one builder per kind.

An item's answer is a list of segments (`chat_items.segments`, a JSON column): its text, the model it made
(files, metrics, program, checklist, review), how the run went, an error, a pending marker while a query
runs, the user's attachments and the faces/edges they pointed at. The types are `TypedDict`s, so a segment
is the plain dict that is stored: every item written before these types existed reads as they say, with no
migration. Producers build segments only through the functions here; readers take them apart with `find`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from chat3d.db.models import StoredFile

Kind = Literal["text", "model", "run", "error", "pending", "attachments", "selection"]
TEXT: Kind = "text"
MODEL: Kind = "model"
RUN: Kind = "run"
ERROR: Kind = "error"
PENDING: Kind = "pending"
ATTACHMENTS: Kind = "attachments"
SELECTION: Kind = "selection"


class FileRef(TypedDict):
    """A stored file (`files` row) as a segment names it."""

    id: str
    format: str
    filename: str
    size: int


class InputRef(FileRef):
    """A file the version's program reads (an imported STEP/STL), by the name the program opens it with."""

    name: str


class ToolCall(TypedDict):
    """The `create_3d_model` call behind a model, replayed to the conversation model in later turns."""

    id: str
    arguments: dict[str, Any]


class TextSegment(TypedDict):
    type: Literal["text"]
    text: str


class ModelSegment(TypedDict):
    """A version: its rendered files, measured metrics and program, and what it was asked to be."""

    type: Literal["model"]
    files: list[FileRef]
    metrics: dict[str, Any]
    code: str
    brief: str
    expectedBboxMm: list[float] | None
    toolCall: ToolCall
    warnings: list[str]
    editedBy: NotRequired[str]  # "you": a code or slider edit (chat3d.pipeline.edits)
    origin: NotRequired[str]  # "edited" | "parameters" | "imported"; absent for a prompt's model
    sourceItemId: NotRequired[str]  # the version an edit changed
    parameters: NotRequired[dict[str, float]]  # the slider values an edit set
    inputs: NotRequired[list[InputRef]]  # files the program reads (chat3d.domain.imports)
    requirements: NotRequired[list[dict[str, Any]]]  # the checklist rows (chat3d.domain.requirements)
    requirementSpec: NotRequired[list[dict[str, Any]]]  # what the rows checked, re-checked on edits
    review: NotRequired[dict[str, Any]]  # the rendered-view review (chat3d.domain.review)


class RunSegment(TypedDict):
    """How a query ran: its models, repair rounds, tokens, cost and timings."""

    type: Literal["run"]
    queryId: str
    rounds: int
    models: dict[str, str]
    reviewRounds: int
    usage: dict[str, int]
    costUsd: float
    timings: dict[str, float]


class ErrorSegment(TypedDict):
    type: Literal["error"]
    kind: str
    message: str
    retryable: NotRequired[bool]
    code: NotRequired[str]  # the program that failed, when there was one


class PendingSegment(TypedDict):
    """The answer of a query still running; replaced by the final segments when it ends."""

    type: Literal["pending"]
    queryId: str


class AttachmentsSegment(TypedDict):
    type: Literal["attachments"]
    files: list[FileRef]


class SelectionSegment(TypedDict):
    """Faces/edges the user pointed at in a version (chat3d.domain.selection)."""

    type: Literal["selection"]
    version: str
    items: list[dict[str, Any]]


Segment = (
    TextSegment | ModelSegment | RunSegment | ErrorSegment | PendingSegment | AttachmentsSegment | SelectionSegment
)


# --- builders -------------------------------------------------------------------------------------


def file_ref(row: StoredFile) -> FileRef:
    return {"id": str(row.id), "format": row.format, "filename": row.filename, "size": row.size}


def input_ref(row: StoredFile, name: str) -> InputRef:
    return {"id": str(row.id), "name": name, "format": row.format, "filename": row.filename, "size": row.size}


def tool_call(call_id: str, arguments: dict[str, Any]) -> ToolCall:
    return {"id": call_id, "arguments": arguments}


def text(value: str) -> TextSegment:
    return {"type": "text", "text": value}


def model(
    *,
    files: list[FileRef],
    metrics: dict[str, Any],
    code: str,
    brief: str,
    call: ToolCall,
    expected_bbox_mm: list[float] | None = None,
    warnings: list[str] | None = None,
    edited_by: str | None = None,
    origin: str | None = None,
    source_item_id: str | None = None,
    parameters: dict[str, float] | None = None,
    inputs: list[InputRef] | None = None,
    requirements: list[dict[str, Any]] | None = None,
    requirement_spec: list[dict[str, Any]] | None = None,
    review: dict[str, Any] | None = None,
) -> ModelSegment:
    """A version's model segment; optional keys are left out when empty, as stored since they were added."""
    seg: ModelSegment = {
        "type": "model",
        "files": files,
        "metrics": metrics,
        "code": code,
        "brief": brief,
        "expectedBboxMm": expected_bbox_mm,
        "toolCall": call,
        "warnings": list(warnings or []),
    }
    if edited_by:
        seg["editedBy"] = edited_by
    if origin:
        seg["origin"] = origin
    if source_item_id:
        seg["sourceItemId"] = source_item_id
    if parameters:
        seg["parameters"] = dict(parameters)
    if inputs:
        seg["inputs"] = inputs
    if requirements or requirement_spec:  # the rows and what they checked go together
        seg["requirements"] = list(requirements or [])
        seg["requirementSpec"] = list(requirement_spec or [])
    if review:
        seg["review"] = review
    return seg


def run(
    *,
    query_id: str,
    rounds: int,
    models: dict[str, str],
    review_rounds: int,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    timings: dict[str, float],
) -> RunSegment:
    return {
        "type": "run",
        "queryId": query_id,
        "rounds": rounds,
        "models": models,
        "reviewRounds": review_rounds,
        "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens},
        "costUsd": round(cost_usd, 6),
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def error(kind: str, message: str, *, retryable: bool | None = None, code: str | None = None) -> ErrorSegment:
    seg: ErrorSegment = {"type": "error", "kind": kind, "message": message}
    if retryable is not None:
        seg["retryable"] = retryable
    if code:
        seg["code"] = code
    return seg


def pending(query_id: str) -> PendingSegment:
    return {"type": "pending", "queryId": query_id}


def attachments(files: list[FileRef]) -> AttachmentsSegment:
    return {"type": "attachments", "files": files}


def selection(version: str, items: list[dict[str, Any]]) -> SelectionSegment:
    return {"type": "selection", "version": version, "items": items}


# --- readers --------------------------------------------------------------------------------------


def of_kind(segments: list[Any] | None, kind: Kind) -> list[Any]:
    """Every segment of one kind, in order (stored JSON: anything that is not a dict is skipped)."""
    return [s for s in segments or [] if isinstance(s, dict) and s.get("type") == kind]


def find(segments: list[Any] | None, kind: Kind) -> Any:
    """The first segment of one kind, or None; typed by the caller (`ModelSegment | None`, …)."""
    return next(iter(of_kind(segments, kind)), None)


def text_of(segments: list[Any] | None) -> str:
    """The item's text segments joined, as shown and as replayed to models."""
    return "\n\n".join(str(s.get("text", "")) for s in of_kind(segments, TEXT)).strip()


def model_of(segments: list[Any] | None) -> ModelSegment | None:
    return find(segments, MODEL)


def is_pending(segments: list[Any] | None) -> bool:
    return bool(of_kind(segments, PENDING))


def attached_ids(segments: list[Any] | None) -> list[str]:
    """The ids of the files attached to a user's message."""
    return [str(f["id"]) for s in of_kind(segments, ATTACHMENTS) for f in s.get("files") or [] if f.get("id")]

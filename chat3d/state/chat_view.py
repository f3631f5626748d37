"""Pure helpers for the chat workspace: what the pages show, computed from domain rows and segments.

Nothing here touches Reflex state or the database, so it is unit-tested directly (tests/state/).
The dataclasses are the typed shapes the state classes hand to the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chat3d.db.models import ACTIVE_STATES, TERMINAL_STATES
from chat3d.domain import parts as parts_domain
from chat3d.domain import segments as segment_types

DIMS_SEP = " × "

STATE_LABELS = {
    "queued": "Queued",
    "conversation": "Reading request",
    "codegen": "Writing code",
    "rendering": "Rendering",
    "repairing": "Repairing",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Stopped",
}
TERMINAL = {s.value for s in TERMINAL_STATES}
ACTIVE = {s.value for s in ACTIVE_STATES}

# Chips under an empty chat. Each must be something the default (offline) model makes in full: a test runs
# every one through it and fails on any "Not modelled" item (tests/llm/test_llm_offline.py).
EXAMPLE_PROMPTS = [
    "a 80 x 50 x 5 mm plate with four 4 mm holes",
    "a 30 mm cube with 2 mm fillets on every edge",
    "a tube 40 mm long, 20 mm outer diameter, 2 mm wall",
]

# The model formats offered for download, in this order. Nothing else is listed: the PNG thumbnail is an
# image, and an SVG stored with older versions was written by the program (never offered or shown again).
FILE_ORDER = ["stl", "step", "3mf", "glb", "py"]
FORMAT_LABELS = {"stl": "STL", "step": "STEP", "3mf": "3MF", "glb": "GLB", "py": "Source (build123d)"}


# --- shapes handed to the page ------------------------------------------------------------------


@dataclass
class ContextRow:
    id: str = ""
    name: str = ""
    group: str = ""
    show_header: bool = False
    thumb_url: str = ""  # the current version's PNG (`/api/files/{id}`, owner only); "" = no model yet


@dataclass
class FileView:
    id: str = ""
    url: str = ""
    filename: str = ""
    format: str = ""
    label: str = ""
    size_label: str = ""


@dataclass
class PartView:
    """One named part of a version (issue 27): its measurements and, with several parts, its own downloads."""

    number: str = ""
    name: str = ""
    size_label: str = ""
    volume_label: str = ""
    stl_url: str = ""
    step_url: str = ""
    mf_url: str = ""  # the 3MF


@dataclass
class DetailRow:
    label: str = ""
    value: str = ""


@dataclass
class ItemView:
    id: str = ""
    role: str = "user"
    text: str = ""
    pending: bool = False
    query_id: str = ""
    progress: list[str] = field(default_factory=list)
    error: str = ""
    retryable: bool = False
    has_model: bool = False
    dims: str = ""
    metrics_line: str = ""
    models_label: str = ""
    warnings: list[str] = field(default_factory=list)
    checklist: str = ""  # issue 23: "80 × 50 × 5 mm ✓ · 4 holes Ø4 ✓ · …" (chat3d.domain.requirements)
    review_views_url: str = ""  # issue 23 item 2: the rendered views the vision model reviewed, or ""
    review_caption: str = ""  # "What GPT-4.1 saw when it reviewed the part: ✓"
    rating: int = 0
    version_label: str = ""
    # Whether Regenerate can run this answer's request again: False for an imported part or an edited version,
    # which have no request behind them (queries.regenerate would refuse).
    can_regenerate: bool = False
    attachments: list[FileView] = field(default_factory=list)
    # A user's message: the faces/edges it pointed at, in the words its chips showed (issue 27); the server
    # wrote them from the version's stored table, so they are never text the page sent.
    picks: list[str] = field(default_factory=list)


@dataclass
class ModelInfo:
    """What the workbench shows for one answer with a model."""

    item_id: str = ""
    glb_url: str = ""
    dims: str = ""
    size_mm: list[float] = field(default_factory=list)
    code: str = ""
    files: list[FileView] = field(default_factory=list)
    details: list[DetailRow] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)  # per solid, for the viewer's part toggles


def part_views(model: Mapping[str, Any] | None, url_base: str, units: str = "mm") -> list[PartView]:
    """The parts list under the viewer: only for a version with per-part files (several solids). ``url_base`` +
    "<n>/<fmt>" downloads a part (`/api/files/<parts.zip id>/parts/` or `/api/share/<token>/parts/`)."""
    rows, bundle = parts_domain.downloadable(model)
    if not bundle:
        return []
    out = []
    for r in rows:
        base = f"{url_base}{r['solid']}/"
        out.append(
            PartView(
                number=str(r["solid"]),
                name=r["name"],
                size_label=format_dims_for(r["size"], units),
                volume_label=format_volume(r["volume"]),
                stl_url=base + "stl",
                step_url=base + "step",
                mf_url=base + "3mf",
            )
        )
    return out


# --- formatting ---------------------------------------------------------------------------------


def format_dims(size: Iterable[float] | None, unit: str = "mm") -> str:
    """`80.0 × 50.0 × 5.0 mm` (one decimal, the multiplication sign); empty when unknown."""
    if not size:
        return ""
    try:
        values = [float(v) for v in size]
    except (TypeError, ValueError):
        return ""
    if len(values) != 3:
        return ""
    return DIMS_SEP.join(f"{v:.1f}" for v in values) + f" {unit}"


MM_PER_INCH = 25.4


def format_dims_for(size_mm: Iterable[float] | None, units: str) -> str:
    """Dimensions in the chat's units: `3.15 × 1.97 × 0.20 in (80.0 × 50.0 × 5.0 mm)` for inch chats."""
    mm = format_dims(size_mm)
    if units != "in" or not mm or size_mm is None:  # no size gives no `mm`; the last test tells mypy so
        return mm
    inches = DIMS_SEP.join(f"{float(v) / MM_PER_INCH:.2f}" for v in size_mm)
    return f"{inches} in ({mm})"


def format_volume(mm3: float | None) -> str:
    if mm3 is None:
        return ""
    mm3 = float(mm3)
    if abs(mm3) >= 1000:
        return f"{mm3 / 1000:,.1f} cm³"
    return f"{mm3:,.1f} mm³"


def format_area(mm2: float | None) -> str:
    if mm2 is None:
        return ""
    mm2 = float(mm2)
    if abs(mm2) >= 100:
        return f"{mm2 / 100:,.1f} cm²"
    return f"{mm2:,.1f} mm²"


def format_seconds(s: float | None) -> str:
    if s is None:
        return ""
    s = float(s)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    return f"{int(s // 60)} min {s % 60:.0f} s"


def format_size(n: int | None) -> str:
    n = int(n or 0)
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def format_cost(usd: float | None) -> str:
    usd = float(usd or 0.0)
    if usd == 0:
        return "$0"
    if usd < 0.01:
        return f"${usd:.4f}"
    return f"${usd:.2f}"


def state_label(state: str, round_: int = 0) -> str:
    if state == "repairing":
        return f"Repairing {round_}" if round_ else "Repairing"
    return STATE_LABELS.get(state, state.capitalize())


def add_progress(progress: list[str], label: str) -> list[str]:
    """The chip timeline with one more step (a repeated step is not added twice in a row)."""
    if progress and progress[-1] == label:
        return list(progress)
    return [*progress, label]


# --- recency ------------------------------------------------------------------------------------


def recency_group(updated_at: datetime, now: datetime | None = None) -> str:
    """Today / Previous 7 days / Older, by calendar day in UTC."""
    now = now or datetime.now(UTC)
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    start_today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ts = updated_at.astimezone(UTC)
    if ts >= start_today:
        return "Today"
    if ts >= start_today - timedelta(days=7):
        return "Previous 7 days"
    return "Older"


def thumbnail_url(file_id: Any) -> str:
    """The owner-only URL of a thumbnail file, "" when there is none."""
    return f"/api/files/{file_id}" if file_id else ""


def group_contexts(rows: Iterable[tuple], now: datetime | None = None) -> list[ContextRow]:
    """Rows (id, name, updated_at[, thumbnail file id]) most recent first -> flat rows, a header flag on each
    group's first row."""
    out: list[ContextRow] = []
    last = None
    for cid, name, updated, *thumb in rows:
        group = recency_group(updated, now)
        out.append(
            ContextRow(
                id=cid,
                name=name,
                group=group,
                show_header=group != last,
                thumb_url=thumbnail_url(thumb[0] if thumb else None),
            )
        )
        last = group
    return out


# --- segments -----------------------------------------------------------------------------------


_seg = segment_types.find
segment_text = segment_types.text_of


def file_view(ref: Mapping[str, Any]) -> FileView:
    fmt = str(ref.get("format", ""))
    return FileView(
        id=str(ref.get("id", "")),
        url=f"/api/files/{ref.get('id', '')}",
        filename=str(ref.get("filename", "")),
        format=fmt,
        label=FORMAT_LABELS.get(fmt, fmt.upper()),
        size_label=format_size(ref.get("size")),
    )


def checklist_line(model: dict | None) -> str:
    """The model's requirement checklist as one line, or "" (a model from before issue 23 has none)."""
    from chat3d.domain.requirements import summary

    rows = (model or {}).get("requirements")
    return summary([r for r in rows if isinstance(r, dict) and "label" in r]) if isinstance(rows, list) else ""


def review_views(model: dict | None) -> tuple[str, str]:
    """(URL of the views the reviewer saw, a caption naming the reviewer and its verdict), or ("", "")."""
    from chat3d.domain.model_settings import model_label
    from chat3d.domain.requirements import STATUS_MARK
    from chat3d.domain.review import checklist_row

    seen = (model or {}).get("review")
    views = next(
        (f for f in (model or {}).get("files") or [] if isinstance(f, dict) and f.get("format") == "views"), None
    )
    if not isinstance(seen, dict) or views is None:
        return "", ""
    row = checklist_row(seen) or {}
    mark = STATUS_MARK.get(row.get("status", ""), "")
    who = model_label(str(seen.get("model") or "")) or "the reviewer"
    return f"/api/files/{views.get('id', '')}", f"What {who} saw when it reviewed the part: {mark}".strip()


def metrics_line(model: dict | None, run: dict | None, units: str = "mm") -> str:
    """`80.0 × 50.0 × 5.0 mm · 18.6 cm³ · 2.4 s · 1,234 tokens · $0` (inches first in an inch chat)."""
    parts: list[str] = []
    metrics = (model or {}).get("metrics") or {}
    if metrics.get("bbox_size_mm"):
        parts.append(format_dims_for(metrics["bbox_size_mm"], units))
    if metrics.get("volume_mm3") is not None:
        parts.append(format_volume(metrics["volume_mm3"]))
    if run:
        timings = run.get("timings") or {}
        total = sum(float(v) for v in timings.values() if isinstance(v, (int, float)))
        if total:
            parts.append(format_seconds(total))
        usage = run.get("usage") or {}
        tokens = int(usage.get("inputTokens") or 0) + int(usage.get("outputTokens") or 0)
        parts.append(f"{tokens:,} tokens")
        parts.append(format_cost(run.get("costUsd")))
    return " · ".join(p for p in parts if p)


def models_label(run: dict | None) -> str:
    """The models that answered, by their friendly names ("GPT-4.1 mini → Claude Sonnet 4.5"; one name if both)."""
    from chat3d.domain.model_settings import model_label

    models = (run or {}).get("models") or {}
    conv, code = models.get("conversation"), models.get("codegen")
    if not conv and not code:
        return ""
    conv_label, code_label = (model_label(conv) if conv else "?"), (model_label(code) if code else "?")
    return conv_label if conv_label == code_label else f"{conv_label} → {code_label}"


def item_view(
    item_id: str,
    role: str,
    segments: list[dict],
    *,
    rating: int = 0,
    version: int = 0,
    progress: list[str] | None = None,
    query_state: str = "",
    query_round: int = 0,
    units: str = "mm",
    can_regenerate: bool = False,
) -> ItemView:
    """One bubble: text, progress chips, error, metrics line and attachments."""
    pending = _seg(segments, "pending")
    model = _seg(segments, "model")
    run = _seg(segments, "run")
    error = _seg(segments, "error")
    attach = _seg(segments, "attachments")
    picked = _seg(segments, "selection")
    chips = list(progress or [])
    if pending and not chips and query_state:
        chips = [state_label(query_state, query_round)]
    elif pending and not chips:
        chips = [state_label("queued")]
    return ItemView(
        id=item_id,
        role=role,
        text=segment_text(segments),
        pending=pending is not None,
        query_id=str((pending or run or {}).get("queryId", "")),
        progress=chips,
        error=str(error.get("message", "")) if error else "",
        retryable=bool(error.get("retryable")) if error else False,
        has_model=model is not None and bool(model.get("files")),
        dims=format_dims(((model or {}).get("metrics") or {}).get("bbox_size_mm")),
        metrics_line=metrics_line(model, run, units) if role == "assistant" and (model or run) else "",
        models_label=models_label(run),
        warnings=[str(w) for w in (model or {}).get("warnings") or []],
        checklist=checklist_line(model),
        review_views_url=review_views(model)[0],
        review_caption=review_views(model)[1],
        rating=int(rating or 0),
        # The same number as the Versions tab (the chat's versions in order); an answer without a model has none.
        version_label=f"Version {version}" if version >= 1 and model is not None and model.get("files") else "",
        attachments=[file_view(f) for f in (attach or {}).get("files") or []],
        can_regenerate=bool(can_regenerate) and role == "assistant",
        picks=[str(it.get("label", "")) for it in (picked or {}).get("items") or [] if isinstance(it, dict)]
        if role == "user"
        else [],
    )


def _sorted_files(refs: list[dict]) -> list[FileView]:
    def key(ref: dict) -> int:
        fmt = ref.get("format", "")
        return FILE_ORDER.index(fmt) if fmt in FILE_ORDER else len(FILE_ORDER)

    return [file_view(r) for r in sorted(refs, key=key) if r.get("format") in FILE_ORDER]


def model_info(item_id: str, segments: list[dict]) -> ModelInfo | None:
    """The workbench's view of an answer's model; None when the answer has none."""
    model = _seg(segments, "model")
    if not model or not model.get("files"):
        return None
    run = _seg(segments, "run") or {}
    metrics = model.get("metrics") or {}
    refs = [f for f in model.get("files") or [] if isinstance(f, dict)]
    glb = next((f for f in refs if f.get("format") == "glb"), None)
    size = [float(v) for v in metrics.get("bbox_size_mm") or []]
    details: list[DetailRow] = []

    def add(label: str, value: str) -> None:
        if value:
            details.append(DetailRow(label, value))

    add("Bounding box", format_dims(size))
    if metrics.get("bbox_min_mm") and metrics.get("bbox_max_mm"):
        add("From", format_dims(metrics["bbox_min_mm"]))
        add("To", format_dims(metrics["bbox_max_mm"]))
    add("Volume", format_volume(metrics.get("volume_mm3")))
    add("Surface area", format_area(metrics.get("area_mm2")))
    for key, label in (("solids", "Solids"), ("faces", "Faces"), ("edges", "Edges")):
        if metrics.get(key) is not None:
            add(label, str(metrics[key]))
    if "valid" in metrics:
        add("Valid solid", "yes" if metrics.get("valid") else "no")
    if model.get("expectedBboxMm"):
        add("Expected size", format_dims(model["expectedBboxMm"]))
    models = run.get("models") or {}
    from chat3d.domain.model_settings import model_label

    add("Conversation model", model_label(str(models["conversation"])) if models.get("conversation") else "")
    add("Code model", model_label(str(models["codegen"])) if models.get("codegen") else "")
    if run:
        add("Repair rounds", str(run.get("rounds", 0)))
        usage = run.get("usage") or {}
        add("Tokens", f"{int(usage.get('inputTokens') or 0):,} in / {int(usage.get('outputTokens') or 0):,} out")
        add("Cost", format_cost(run.get("costUsd")))
        timings = run.get("timings") or {}
        for key, label in (
            ("conversation_s", "Conversation time"),
            ("codegen_s", "Code generation time"),
            ("render_s", "Render time"),
        ):
            if key in timings:
                add(label, format_seconds(timings[key]))
    add("Build time", format_seconds(metrics.get("build_s")) if metrics.get("build_s") is not None else "")
    add("Export time", format_seconds(metrics.get("export_s")) if metrics.get("export_s") is not None else "")
    for w in model.get("warnings") or []:
        add("Warning", str(w))
    return ModelInfo(
        item_id=item_id,
        glb_url=f"/api/files/{glb['id']}" if glb else "",
        dims=format_dims(size),
        size_mm=size,
        code=str(model.get("code") or ""),
        files=_sorted_files(refs),
        details=details,
        part_names=[p["name"] for p in parts_domain.parts_of(model)],
    )


def pending_query_id(segments: list[dict]) -> str:
    seg = _seg(segments, "pending")
    return str(seg.get("queryId", "")) if seg else ""

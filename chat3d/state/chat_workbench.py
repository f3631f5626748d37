"""The workbench (Preview / Parameters / Code / Versions / Files / Details of the selected answer) and the
mobile pane switch.

Edits re-render without a model call (chat3d.pipeline.edits). Parameters preview first: moving a slider
(debounced while it moves), releasing it, or a number field's Enter/blur renders the change and shows it in
the viewer with its size, as a preview that is not a version; "Keep" stores that very render as a new version,
"Discard" goes back to the stored one (so exploring values does not fill the version list). The code editor's
"Render" keeps its result at once. A program that fails to render shows its error inline and stores nothing.

A kept edit is a new version the thread and the Versions tab list at once, so "Render" and "Keep" are
chat_reactions' handlers; they, and the chat's opening, call this module's functions (plain functions: Reflex
makes every public method of a state an event handler a client could send).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain import files as files_domain
from chat3d.domain import parts as parts_domain
from chat3d.domain.errors import DomainError
from chat3d.domain.parameters import ParameterError, extract_parameters, format_value
from chat3d.pipeline import edits
from chat3d.pipeline.edits import Preview
from chat3d.state.active_chat import signed_in_user_id
from chat3d.state.chat_view import MM_PER_INCH, DetailRow, FileView, PartView, format_dims_for, model_info, part_views
from chat3d.state.layout import LayoutState


@dataclass
class ParamView:
    """One parameter row, in the chat's units: a millimetre parameter of an inch chat shows inches (`scale`
    is the program unit per shown unit, 25.4 there, else 1)."""

    name: str = ""
    label: str = ""
    value: float = 0.0
    text: str = ""
    min: float = 0.0
    max: float = 1.0
    step: float = 1.0
    unit: str = ""
    description: str = ""
    integer: bool = False
    scale: float = 1.0
    aria: str = ""  # the slider's accessible name: the parameter and its unit


@dataclass
class PickedView:
    """One face or edge picked in the viewer, as a composer chip: its id and its words (selection.describe)."""

    id: str = ""
    label: str = ""


# The least half-width of a slider's window, per shown unit (a value near 0 still gets room to move).
MIN_HALF = {"in": 0.2, "cm": 0.5, "m": 0.01, "rad": 0.5, "ratio": 0.5, "turns": 0.5}


def slider_window(
    value: float, lo: float | None, hi: float | None, integer: bool, unit: str
) -> tuple[float, float, float]:
    """(min, max, step) of a slider around `value`: half the value either side (at least MIN_HALF), inside the
    declared bounds, in 20 to 200 steps of a power of ten. A declared [1..1000] put a whole metre into the
    slider's width; this puts ±50% there, so a pixel is a fine change and the arrows step by 1 mm at 80 mm."""
    half = max(abs(value) * 0.5, 5.0 if integer else MIN_HALF.get(unit, 5.0))
    step = 1.0 if integer else 10.0 ** math.floor(math.log10(2 * half / 20))
    low = value - half
    floor = lo if lo is not None else (0.0 if value >= 0 else -math.inf)
    low = max(math.floor(low / step) * step, floor)
    high = math.ceil((value + half) / step) * step
    if hi is not None:
        high = min(high, hi)
    low, high = min(low, value), max(high, value)  # a value outside its declared range still shows
    if high <= low:
        high = low + step
    return round(low, 9), round(high, 9), step


def shown_text(value: float, integer: bool, scale: float) -> str:
    """The number field's text: the program's literal, or three decimals for inches."""
    return format_value(value, integer) if scale == 1.0 else f"{value:.3f}"


def param_views(code: str, units: str = "mm") -> list[ParamView]:
    """The rows for a stored program in the chat's units. Each slider's window sits around the stored value
    (a preview widens it only to include its own value), so a preview does not move the range under the
    pointer."""
    try:
        params = extract_parameters(code)
    except ParameterError:
        return []
    out = []
    for p in params:
        scale = MM_PER_INCH if units == "in" and p.unit == "mm" else 1.0
        unit = "in" if scale != 1.0 else ("" if p.unit == "count" else p.unit)
        value = float(p.value) / scale
        lo, hi, step = slider_window(
            value, None if p.min is None else p.min / scale, None if p.max is None else p.max / scale, p.integer, unit
        )
        out.append(
            ParamView(
                name=p.name,
                label=p.label,
                value=value,
                text=shown_text(value, p.integer, scale),
                min=lo,
                max=hi,
                step=step,
                unit=unit,
                description=p.description,
                integer=p.integer,
                scale=scale,
                aria=f"{p.label} ({unit})" if unit else p.label,
            )
        )
    return out


TABS = ("preview", "code", "versions", "files", "details")


class WorkbenchState(rx.State):
    """The selected answer's model. Only URLs and metrics live here: mesh bytes load in the browser."""

    item_id: str = ""
    context_id: str = ""
    units: str = "mm"  # the chat's units (ChatContext.units): dimensions and parameters show in them
    glb_url: str = ""
    dims: str = ""
    size_mm: list[float] = []
    code: str = ""
    files: rx.Field[list[FileView]] = rx.field(default_factory=list)
    details: rx.Field[list[DetailRow]] = rx.field(default_factory=list)
    # issue 27: named parts with their own downloads (several solids only)
    parts: rx.Field[list[PartView]] = rx.field(default_factory=list)
    part_names: list[str] = []  # per solid, for the viewer's part toggles
    _part_sizes_mm: list = []  # the parts' sizes, for relabelling when the chat's units change
    tab: str = "preview"
    params: list[ParamView] = []
    edited_by_you: bool = False
    # Editing: a render in flight, and the last render error (shown inline; nothing was stored).
    rendering: str = ""  # "", "code", "parameters" (a preview) or "keeping"
    edit_error: str = ""
    edit_error_line: int = 0
    code_nonce: rx.Field[int] = rx.field(0)  # bumps to reset the editor and the sliders to the stored program
    # A parameter preview on show (not a version until kept): what the viewer shows instead of the stored model.
    preview_glb_url: str = ""
    preview_dims: str = ""
    preview_size_mm: list[float] = []
    preview_values: dict[str, float] = {}  # every parameter the preview changed, by name
    _preview: Preview | None = None  # the shown preview (its files belong to no version until kept)
    # Pointing at geometry (issue 27): the faces/edges picked in the viewer for the next message. They belong
    # to one version (`picked_version`) and are cleared when the shown version changes or a message takes them.
    topology_url: str = ""  # the shown version's face/edge words for the viewer ("" when it has no table)
    picked_version: str = ""
    picked: rx.Field[list[PickedView]] = rx.field(default_factory=list)
    picked_note: str = ""  # e.g. that the cap was reached
    _asked: dict = {}  # the values the user asked for last (a render in flight may be older)

    @rx.var
    def has_model(self) -> bool:
        return bool(self.item_id)

    @rx.var
    def has_params(self) -> bool:
        return len(self.params) > 0

    @rx.var
    def picked_ids(self) -> list[str]:
        return [p.id for p in self.picked]

    @rx.var
    def previewing(self) -> bool:
        return self.preview_glb_url != ""

    def _drop_preview(self) -> None:
        """Forget the shown preview and delete its files (they belong to no version)."""
        preview, self._preview, self._asked = self._preview, None, {}
        self.preview_glb_url, self.preview_dims, self.preview_size_mm, self.preview_values = "", "", [], {}
        self.params = self._rows()
        if preview is not None:
            with session_scope() as s:
                paths = edits.discard_preview_files(s, preview)
            files_domain.remove_stored_paths(paths)

    @rx.event
    async def select_item(self, item_id: str):
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        if show_item(self, uid, item_id):
            layout = await self.get_state(LayoutState)
            if layout.pane == "thread":
                layout.pane = "preview"

    @rx.event
    async def pick_geometry(self, version: str, ids: list[str]):
        """The viewer's selection changed (click, shift-click, the keyboard list, Escape): keep the picked rows
        of the shown version with their words. A pick made on a version no longer shown is ignored."""
        from chat3d.domain import selection

        if not isinstance(version, str) or version != self.item_id or not self.topology_url:
            return
        ids = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
        if not ids:
            clear_picked(self)
            return
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        try:
            with session_scope() as s:
                rows = selection.resolve(s, uid, self.context_id, version, ids[:200])
        except DomainError as exc:
            self.picked_note = exc.message
            return
        self.picked_version = version
        self.picked = [PickedView(id=r["id"], label=selection.describe(r)) for r in rows]
        self.picked_note = (
            f"At most {selection.MAX_SELECTED} faces or edges go with one message."
            if len(dict.fromkeys(ids)) > selection.MAX_SELECTED
            else ""
        )

    @rx.event
    def unpick(self, picked_id: str):
        """A chip's remove button."""
        self.picked = [p for p in self.picked if p.id != picked_id]
        self.picked_note = ""
        if not self.picked:
            clear_picked(self)

    @rx.event
    def reset_code(self):
        self.code_nonce += 1
        self.edit_error, self.edit_error_line = "", 0

    # --- edits (background: a render takes seconds and must not hold the tab's state lock) ----------

    def _stored_values(self) -> dict[str, float]:
        """The stored program's parameter values, in the program's units."""
        try:
            return {p.name: float(p.value) for p in extract_parameters(self.code)}
        except ParameterError:
            return {}

    def _rows(self) -> list[ParamView]:
        return param_views(self.code, self.units)

    def _to_program(self, values: dict[str, float]) -> dict[str, float]:
        """Shown values (inches for a millimetre parameter of an inch chat) -> the program's units."""
        scale = {p.name: p.scale for p in self._rows()}
        return {k: round(float(v) * scale[k], 6) if scale.get(k, 1.0) != 1.0 else float(v) for k, v in values.items()}

    def _show_values(self, values: dict[str, float]) -> None:
        """The parameter rows show `values` (program units) over the stored ones; the sliders keep their keys
        and their windows, so a preview does not remount them."""
        rows = self._rows()
        for row in rows:
            if row.name in values:
                row.value = values[row.name] / row.scale
                row.text = shown_text(row.value, row.integer, row.scale)
                row.min, row.max = min(row.min, row.value), max(row.max, row.value)
        self.params = rows

    async def _preview_params(self, values: dict[str, float]) -> None:
        """Render the shown version with the values asked for so far as a preview. While one renders, newer
        values wait and the newest render next: dragging costs at most one render in flight and one queued."""
        async with self:
            if not self.item_id or self.rendering in ("code", "keeping"):
                return
            uid = await signed_in_user_id(self)
            if uid is None:
                return
            stored = self._stored_values()
            values = self._to_program({k: v for k, v in values.items() if k in stored})
            asked = {**self._asked, **values}
            self._asked = {k: v for k, v in asked.items() if v != stored[k]}
            if self.rendering == "parameters":
                return  # the running render picks the new values up when it ends
            if not self._asked:
                self._drop_preview()
                return
            if self._preview is not None and self._asked == self.preview_values:
                return  # already on show
            item_id, wanted = self.item_id, dict(self._asked)
            self.rendering, self.edit_error, self.edit_error_line = "parameters", "", 0
        while True:
            error, result = "", None
            try:
                result = await edits.preview_parameters(uid, item_id, wanted)
            except DomainError as exc:
                error = exc.message
            except Exception:
                error = "Something went wrong while rendering; try again."
            stale = result
            async with self:
                again = False
                if self.item_id != item_id:
                    pass  # another answer was selected meanwhile: this render is not wanted
                elif not self._asked:
                    # Discarded, or moved back to the stored values, while it rendered.
                    if self._preview is not None:
                        self._drop_preview()
                        self.code_nonce += 1
                elif isinstance(result, Preview):
                    stale, self._preview = self._preview, result
                    info = model_info("", [{"type": "model", "files": result.files, "metrics": result.metrics}])
                    self.preview_glb_url = info.glb_url if info else ""
                    self.preview_size_mm = info.size_mm if info else []
                    self.preview_dims = format_dims_for(self.preview_size_mm, self.units)
                    self.preview_values = dict(wanted)
                    self._show_values(wanted)
                else:  # the values failed: say why; what is shown stays, and so do its sliders
                    err = (result.error or {}) if result is not None else {}
                    self.edit_error = str(err.get("message") or error or "The program failed.")
                    self.edit_error_line = int(err.get("line") or 0)
                    if self._asked == wanted:
                        self._asked = dict(self.preview_values)
                        self._show_values(self.preview_values)
                        self.code_nonce += 1
                if self.item_id == item_id and self._asked and self._asked != wanted:
                    wanted, again = dict(self._asked), True  # newer values arrived: render them next
                if not again:
                    self.rendering = ""
            if isinstance(stale, Preview):
                await edits.discard_preview(stale)
            if not again:
                return

    @rx.event(background=True)
    async def preview_slider(self, name: str, value: list[float]):
        """A slider moved (debounced) or released: preview that value."""
        if value:
            await self._preview_params({name: float(value[0])})

    async def _preview_typed(self, form: dict) -> None:
        values: dict[str, float] = {}
        for name, text in (form or {}).items():
            try:
                values[str(name)] = float(str(text).strip())
            except ValueError:
                async with self:
                    self.edit_error = f"{name} must be a number."
                return
        await self._preview_params(values)

    @rx.event(background=True)
    async def preview_number(self, form: dict):
        """A parameter's number field submitted with Enter: {name: text}."""
        await self._preview_typed(form)

    @rx.event(background=True)
    async def preview_field(self, name: str, text: str):
        """A parameter's number field left (blur): preview its value."""
        await self._preview_typed({name: text})

    @rx.event
    def discard_preview(self):
        """Back to the stored version: the sliders and the viewer show it again."""
        if self.rendering == "keeping":
            return
        self._drop_preview()
        self.edit_error, self.edit_error_line = "", 0
        self.code_nonce += 1


# --- what other modules call (chat_reactions) ---------------------------------------------------------------


def clear_workbench(wb: WorkbenchState) -> None:
    """No answer with a model to show (an empty or unknown chat)."""
    wb._drop_preview()
    wb.item_id, wb.context_id, wb.glb_url, wb.dims, wb.size_mm, wb.code = "", "", "", "", [], ""
    wb.files, wb.details, wb.params, wb.edited_by_you = [], [], [], False
    wb.parts, wb.part_names = [], []
    wb.edit_error, wb.edit_error_line = "", 0
    wb.topology_url = ""
    clear_picked(wb)


def clear_picked(wb: WorkbenchState) -> None:
    """No faces or edges picked (a message took them, or the shown version changed)."""
    wb.picked_version, wb.picked, wb.picked_note = "", [], ""


def picked_for(wb: WorkbenchState, context_id: str) -> dict | None:
    """The selection to send with the next message of chat `context_id`: {version, ids}, or None."""
    if not wb.picked or wb.context_id != context_id or wb.picked_version != wb.item_id:
        return None
    return {"version": wb.picked_version, "ids": [p.id for p in wb.picked]}


def show_item(wb: WorkbenchState, uid: uuid.UUID, item_id: str) -> bool:
    """Show one of the user's answers with a model (False when it is not theirs or has none)."""
    try:
        with session_scope() as s:
            item = chats.get_item(s, uid, item_id)
            info = model_info(str(item.id), item.segments)
            context_id = str(item.context_id)
            units = chats.get_context(s, uid, item.context_id).units or "mm"
            model: Mapping[str, Any] = chats.model_segment(item) or {}
            from chat3d.domain.versions import download_stems  # the names downloads get (`flange-v3.step`)

            stems = download_stems(s, item.context_id, item.id)
    except DomainError:
        return False
    if info is None:
        return False
    changed = info.item_id != wb.item_id
    wb.item_id, wb.glb_url, wb.size_mm = info.item_id, info.glb_url, info.size_mm
    wb.context_id, wb.units = context_id, units
    wb.dims = format_dims_for(info.size_mm, units)
    wb.code, wb.details = info.code, info.details
    wb.files = [
        replace(f, filename=f"{stems[1]}.{f.format}") if stems else f for f in info.files
    ]  # model formats only (chat_view.FILE_ORDER): no thumbnail, no stored SVG
    bundle = parts_domain.bundle_ref(model)
    wb.parts = part_views(model, f"/api/files/{bundle['id']}/parts/" if bundle else "", units)
    wb._part_sizes_mm = [r["size"] for r in parts_domain.downloadable(model)[0]]
    wb.part_names = info.part_names
    wb.params = wb._rows()
    wb.edited_by_you = model.get("editedBy") == "you"
    has_table = any(f.get("format") == "topology" for f in model.get("files") or [])
    wb.topology_url = f"/api/chat/items/{info.item_id}/topology" if has_table else ""
    if changed:
        clear_picked(wb)  # ids belong to one version
        wb._drop_preview()
        wb.edit_error, wb.edit_error_line = "", 0
        wb.code_nonce += 1
    elif wb.preview_values:
        wb._show_values(wb.preview_values)
    return True


def set_units(wb: WorkbenchState, units: str) -> None:
    """The chat's units changed (chat_reactions' set_units): sizes and parameter rows follow at once."""
    if units not in ("mm", "in") or units == wb.units:
        return
    wb.units = units
    wb.dims = format_dims_for(wb.size_mm, units)
    wb.preview_dims = format_dims_for(wb.preview_size_mm, units) if wb.preview_size_mm else ""
    wb.parts = [replace(p, size_label=format_dims_for(mm, units)) for p, mm in zip(wb.parts, wb._part_sizes_mm)]
    if wb.preview_values:
        wb._show_values(wb.preview_values)
    else:
        wb.params = wb._rows()


def choose_tab(wb: WorkbenchState, tab: str) -> None:
    if tab in TABS:
        wb.tab = tab


def start_code_render(wb: WorkbenchState) -> str:
    """Begin rendering the code editor's program: the shown answer's id, or '' when one is rendering already."""
    if wb.rendering or not wb.item_id:
        return ""
    wb.rendering, wb.edit_error, wb.edit_error_line = "code", "", 0
    return wb.item_id


def start_keep(wb: WorkbenchState, uid: uuid.UUID):
    """Begin keeping the shown preview as a version: the preview (chat3d.pipeline.edits.Preview), or None when
    there is none of this user's or a render is running."""
    preview = wb._preview
    if preview is None or wb.rendering or preview.owner_id != uid:
        return None
    wb.rendering = "keeping"
    return preview


def render_failed(wb: WorkbenchState, message: str) -> None:
    wb.rendering, wb.edit_error = "", message


def kept(wb: WorkbenchState) -> None:
    """The preview was stored as a version: its files now belong to it (nothing to delete)."""
    wb.rendering = ""
    wb._preview, wb._asked = None, {}
    wb.preview_glb_url, wb.preview_dims, wb.preview_size_mm, wb.preview_values = "", "", [], {}


def show_edit(wb: WorkbenchState, uid: uuid.UUID, result) -> bool:
    """An edit's render ended (chat3d.pipeline.edits.EditResult): show the new version, or the program's error
    inline (nothing was stored). True when a version was made."""
    wb.rendering = "" if wb.rendering == "code" else wb.rendering
    if not result.ok:
        err = result.error or {}
        wb.edit_error = str(err.get("message") or "The program failed.")
        wb.edit_error_line = int(err.get("line") or 0)
        return False
    wb.edit_error, wb.edit_error_line = "", 0
    show_item(wb, uid, result.item_id)
    return True

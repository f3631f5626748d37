"""The workbench (Preview / Parameters / Code / Versions / Files / Details of the selected answer) and the
mobile pane switch.

Edits re-render without a model call (chat3d.pipeline.edits). Decision: every *committed* change makes a
new version: a slider commits when it is released (or on a key press), a number field on Enter or blur,
the code editor on "Render". A program that fails to render shows its error inline and stores nothing,
so the version list only ever holds models that built.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.domain.parameters import ParameterError, extract_parameters, format_value
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import DetailRow, FileView, model_info

THUMBNAIL_FORMATS = {"svg"}


@dataclass
class ParamView:
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


def param_views(code: str) -> list[ParamView]:
    try:
        params = extract_parameters(code)
    except ParameterError:
        return []
    out = []
    for p in params:
        lo, hi, step = p.slider_range()
        out.append(ParamView(
            name=p.name, label=p.label, value=float(p.value), text=format_value(p.value, p.integer), min=lo,
            max=max(hi, float(p.value)) if p.max is None else hi, step=step,
            unit="" if p.unit == "count" else p.unit, description=p.description, integer=p.integer,
        ))
    return out


class WorkbenchState(rx.State):
    """The selected answer's model. Only URLs and metrics live here: mesh bytes load in the browser."""

    item_id: str = ""
    context_id: str = ""
    glb_url: str = ""
    dims: str = ""
    size_mm: list[float] = []
    code: str = ""
    files: list[FileView] = []
    details: list[DetailRow] = []
    tab: str = "preview"
    params: list[ParamView] = []
    edited_by_you: bool = False
    # Editing: a render in flight, and the last render error (shown inline; nothing was stored).
    rendering: str = ""  # "", "code" or "parameters"
    edit_error: str = ""
    edit_error_line: int = 0
    code_nonce: int = 0  # bumps to reset the editor to the stored program

    @rx.var
    def has_model(self) -> bool:
        return bool(self.item_id)

    @rx.var
    def has_params(self) -> bool:
        return len(self.params) > 0

    def _clear(self) -> None:
        self.item_id, self.context_id, self.glb_url, self.dims, self.size_mm, self.code = "", "", "", [], [], ""
        self.files, self.details, self.params, self.edited_by_you = [], [], [], False
        self.edit_error, self.edit_error_line = "", 0

    def _show_item(self, uid: uuid.UUID, item_id: str) -> bool:
        try:
            with session_scope() as s:
                item = chats.get_item(s, uid, item_id)
                info = model_info(str(item.id), item.segments)
                context_id = str(item.context_id)
                model = chats.model_segment(item) or {}
        except DomainError:
            return False
        if info is None:
            return False
        changed = info.item_id != self.item_id
        self.item_id, self.glb_url, self.dims, self.size_mm = info.item_id, info.glb_url, info.dims, info.size_mm
        self.context_id = context_id
        self.code, self.details = info.code, info.details
        self.files = [f for f in info.files if f.format not in THUMBNAIL_FORMATS] + \
            [f for f in info.files if f.format in THUMBNAIL_FORMATS]
        self.params = param_views(info.code)
        self.edited_by_you = model.get("editedBy") == "you"
        if changed:
            self.edit_error, self.edit_error_line = "", 0
            self.code_nonce += 1
        return True

    @rx.event
    async def select_item(self, item_id: str):
        auth = await self.get_state(AuthState)
        uid = auth._current_user_id()
        if uid is None:
            return
        if self._show_item(uid, item_id):
            layout = await self.get_state(LayoutState)
            if layout.pane == "thread":
                layout.pane = "preview"

    @rx.event
    def set_tab(self, tab: str):
        from chat3d.state.versions import VersionsState

        if tab in ("preview", "code", "versions", "files", "details"):
            self.tab = tab
        if tab == "versions":
            return VersionsState.load

    @rx.event
    def reset_code(self):
        self.code_nonce += 1
        self.edit_error, self.edit_error_line = "", 0

    # --- edits (background: a render takes seconds and must not hold the tab's state lock) ----------

    async def _after_edit(self, uid: uuid.UUID, result) -> list:
        from chat3d.state.chat import ThreadState
        from chat3d.state.versions import VersionsState

        if not result.ok:
            err = result.error or {}
            self.edit_error = str(err.get("message") or "The program failed.")
            self.edit_error_line = int(err.get("line") or 0)
            return []
        self.edit_error, self.edit_error_line = "", 0
        thread = await self.get_state(ThreadState)
        if result.context_id == thread.active_id:
            await thread._reload_item(uid, result.item_id)
        self._show_item(uid, result.item_id)
        versions = await self.get_state(VersionsState)
        versions._reload(uid, result.context_id)
        return [rx.scroll_to("thread-end")]

    @rx.event(background=True)
    async def render_code(self, form: dict):
        from chat3d.pipeline import edits

        async with self:
            if self.rendering or not self.item_id:
                return
            uid = (await self.get_state(AuthState))._current_user_id()
            if uid is None:
                return
            item_id, self.rendering, self.edit_error, self.edit_error_line = self.item_id, "code", "", 0
        try:
            result = await edits.render_edit(uid, item_id, str(form.get("code") or ""), origin="edited")
        except DomainError as exc:
            async with self:
                self.rendering, self.edit_error = "", exc.message
            return
        except Exception:
            async with self:
                self.rendering, self.edit_error = "", "Something went wrong while rendering; try again."
            return
        async with self:
            self.rendering = ""
            events = await self._after_edit(uid, result)
        for event in events:
            yield event

    async def _render_params(self, values: dict[str, float]) -> list:
        from chat3d.pipeline import edits

        async with self:
            if self.rendering or not self.item_id:
                return []
            uid = (await self.get_state(AuthState))._current_user_id()
            if uid is None:
                return []
            current = {p.name: p.value for p in self.params}
            values = {k: v for k, v in values.items() if float(v) != current.get(k)}
            if not values:
                return []
            item_id, self.rendering, self.edit_error, self.edit_error_line = self.item_id, "parameters", "", 0
        try:
            result = await edits.render_parameters(uid, item_id, values)
        except DomainError as exc:
            async with self:
                self.rendering, self.edit_error = "", exc.message
                self.code_nonce += 1  # puts the sliders back on the stored values
            return []
        except Exception:
            async with self:
                self.rendering, self.edit_error = "", "Something went wrong while rendering; try again."
            return []
        async with self:
            self.rendering = ""
            if not result.ok:
                self.code_nonce += 1
            return await self._after_edit(uid, result)

    @rx.event(background=True)
    async def commit_slider(self, name: str, value: list[float]):
        """A slider released (or moved with the keyboard): render that value as a new version."""
        if not value:
            return
        for event in await self._render_params({name: float(value[0])}) or []:
            yield event

    @rx.event(background=True)
    async def commit_number(self, form: dict):
        """A parameter's number field submitted with Enter: {name: text}."""
        values: dict[str, float] = {}
        for name, text in (form or {}).items():
            try:
                values[str(name)] = float(str(text).strip())
            except ValueError:
                async with self:
                    self.edit_error = f"{name} must be a number."
                return
        for event in await self._render_params(values) or []:
            yield event


class LayoutState(rx.State):
    """Which pane a narrow screen shows (wide screens show all three)."""

    pane: str = "thread"

    @rx.event
    def show_pane(self, pane: str | list[str]):
        value = pane[0] if isinstance(pane, list) and pane else pane
        if value in ("chats", "thread", "preview"):
            self.pane = value

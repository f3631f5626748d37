"""The workbench (Preview / Code / Files / Details of the selected answer) and the mobile pane switch."""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import DetailRow, FileView, model_info


class WorkbenchState(rx.State):
    """The selected answer's model. Only URLs and metrics live here: mesh bytes load in the browser."""

    item_id: str = ""
    glb_url: str = ""
    dims: str = ""
    size_mm: list[float] = []
    code: str = ""
    files: list[FileView] = []
    details: list[DetailRow] = []
    tab: str = "preview"

    @rx.var
    def has_model(self) -> bool:
        return bool(self.item_id)

    def _clear(self) -> None:
        self.item_id, self.glb_url, self.dims, self.size_mm, self.code = "", "", "", [], ""
        self.files, self.details = [], []

    def _show_item(self, uid: uuid.UUID, item_id: str) -> bool:
        try:
            with session_scope() as s:
                item = chats.get_item(s, uid, item_id)
                info = model_info(str(item.id), item.segments)
        except DomainError:
            return False
        if info is None:
            return False
        self.item_id, self.glb_url, self.dims, self.size_mm = info.item_id, info.glb_url, info.dims, info.size_mm
        self.code, self.files, self.details = info.code, info.files, info.details
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
        if tab in ("preview", "code", "files", "details"):
            self.tab = tab


class LayoutState(rx.State):
    """Which pane a narrow screen shows (wide screens show all three)."""

    pane: str = "thread"

    @rx.event
    def show_pane(self, pane: str | list[str]):
        value = pane[0] if isinstance(pane, list) and pane else pane
        if value in ("chats", "thread", "preview"):
            self.pane = value

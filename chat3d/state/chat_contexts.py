"""The contexts pane: the user's chats grouped by recency, search, new chat, inline rename, delete."""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import ContextRow, group_contexts

LIST_LIMIT = 200


class ContextsState(rx.State):
    rows: list[ContextRow] = []
    total: int = 0
    search: str = ""
    active_id: str = ""
    editing_id: str = ""
    delete_id: str = ""
    delete_name: str = ""
    error: str = ""

    async def _uid(self) -> uuid.UUID | None:
        auth = await self.get_state(AuthState)
        return auth._current_user_id()

    def _reload(self, uid: uuid.UUID) -> None:
        with session_scope() as s:
            page = chats.list_contexts(s, uid, search=self.search, limit=LIST_LIMIT, thumbnails=True)
            self.rows = group_contexts((str(c.id), c.name, c.updated_at, page.thumbnails.get(c.id)) for c in page.items)
            self.total = page.total

    @rx.event
    async def set_search(self, value: str):
        self.search = value.replace("\x00", "")[:200]  # (the database refuses NUL in text)
        uid = await self._uid()
        if uid is not None:
            self._reload(uid)

    @rx.event
    async def new_chat(self):
        from chat3d.state.chat_workbench import LayoutState

        uid = await self._uid()
        if uid is None:
            return
        try:
            with session_scope() as s:
                cid = str(chats.create_context(s, uid).id)
        except DomainError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self._reload(uid)
        (await self.get_state(LayoutState)).pane = "thread"
        return rx.redirect(f"/chat/{cid}")

    @rx.event
    def start_rename(self, context_id: str):
        self.editing_id = context_id
        if self.error:  # only when set: an unchanged var is not re-sent (one var in the usual delta)
            self.error = ""

    @rx.event
    def cancel_rename(self):
        self.editing_id = ""

    @rx.event
    def rename_key(self, key: str):
        if key == "Escape":
            self.editing_id = ""

    @rx.event
    async def rename(self, form: dict):
        from chat3d.state.chat import ThreadState

        uid = await self._uid()
        cid = self.editing_id
        if uid is None or not cid:
            return
        try:
            with session_scope() as s:
                name = chats.update_context(s, uid, cid, name=str(form.get("name") or "")).name
        except DomainError as exc:
            self.error = str(exc)
            return
        self.editing_id, self.error = "", ""
        self._reload(uid)
        thread = await self.get_state(ThreadState)
        if thread.active_id == cid:
            thread.chat_name = name

    @rx.event
    def ask_delete(self, context_id: str, name: str):
        self.delete_id, self.delete_name = context_id, name

    @rx.event
    def cancel_delete(self):
        self.delete_id, self.delete_name = "", ""

    @rx.event
    async def confirm_delete(self):
        from chat3d.domain.files import remove_stored_paths

        uid = await self._uid()
        cid = self.delete_id
        self.delete_id, self.delete_name = "", ""
        if uid is None or not cid:
            return
        try:
            with session_scope() as s:
                orphans = chats.delete_context(s, uid, cid)
        except DomainError as exc:
            self.error = str(exc)
            return
        remove_stored_paths(orphans)  # after the commit
        self.error = ""
        self._reload(uid)
        if cid == self.active_id:
            self.active_id = ""
            return rx.redirect("/chat")
        return rx.toast.success("Chat deleted.")

"""The contexts pane: the user's chats grouped by recency, search, new chat, inline rename, delete.

`reload_contexts` is what other modules call (chat_reactions): a plain function, because Reflex makes every
public method of a state an event handler a client could send."""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.chat_view import ContextRow, group_contexts
from chat3d.state.layout import LayoutState

LIST_LIMIT = 200


class ContextsState(rx.State):
    rows: rx.Field[list[ContextRow]] = rx.field(default_factory=list)
    total: int = 0
    search: str = ""
    editing_id: str = ""
    delete_id: str = ""
    delete_name: str = ""
    error: str = ""

    @rx.event
    async def set_search(self, value: str):
        self.search = value.replace("\x00", "")[:200]  # (the database refuses NUL in text)
        uid = await signed_in_user_id(self)
        if uid is not None:
            reload_contexts(self, uid)

    @rx.event
    async def new_chat(self):
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        try:
            with session_scope() as s:
                cid = str(chats.create_context(s, uid).id)
        except DomainError as exc:
            self.error = str(exc)
            return
        self.error = ""
        reload_contexts(self, uid)
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
        uid = await signed_in_user_id(self)
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
        reload_contexts(self, uid)
        active = await self.get_state(ActiveChatState)
        if active.context_id == cid:
            active.name = name

    @rx.event
    def ask_delete(self, context_id: str, name: str):
        self.delete_id, self.delete_name = context_id, name

    @rx.event
    def cancel_delete(self):
        self.delete_id, self.delete_name = "", ""

    @rx.event
    async def confirm_delete(self):
        from chat3d.domain.files import remove_stored_paths

        uid = await signed_in_user_id(self)
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
        reload_contexts(self, uid)
        if cid == (await self.get_state(ActiveChatState)).context_id:
            return rx.redirect("/chat")  # the page opens the newest chat left
        return rx.toast.success("Chat deleted.")


def reload_contexts(contexts: ContextsState, uid: uuid.UUID) -> None:
    """The user's chats as the pane lists them (with the search typed), each with its current version's thumbnail."""
    with session_scope() as s:
        page = chats.list_contexts(s, uid, search=contexts.search, limit=LIST_LIMIT, thumbnails=True)
        contexts.rows = group_contexts((str(c.id), c.name, c.updated_at, page.thumbnails.get(c.id)) for c in page.items)
        contexts.total = page.total

"""Import a STEP/STL file as the start of a new chat, from the workspace's "Import STEP/STL" dialog.

The upload handler only checks the file (by content, IMPORT_MAX_BYTES) and parks its bytes in storage;
the render runs in a background task (it can take a while for a detailed mesh) so the tab's state lock
is never held for it. On success the tab goes to the new chat, whose current version is the imported part
(opened by chat_reactions, which this dialog may import: it is no pane, and no pane imports it).
"""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.chat_reactions import ChatReactionsState

IMPORT_UPLOAD_ID = "import-upload"


class ImportState(rx.State):
    open: bool = False
    busy: bool = False
    error: str = ""
    filename: str = ""
    # Backend only: the parked upload's path under the storage root, and the open chat to import into when it
    # is still empty (a "New chat" made for the import), so neither a failed nor a good import leaves one behind.
    _staged_path: str = ""
    _into: str = ""

    @rx.var
    def limit_text(self) -> str:
        from chat3d.domain.imports import max_bytes

        return f"{max_bytes() / (1024 * 1024):g} MB"

    @rx.event
    def set_open(self, value: bool):
        if self.busy:
            return  # stays open until the import ends
        self.open, self.error = bool(value), ""

    @rx.event
    async def handle_import(self, files: list[rx.UploadFile]):
        from chat3d.domain import files as stored
        from chat3d.domain import imports

        uid = await signed_in_user_id(self)
        if uid is None or self.busy or not files:
            return
        upload = files[0]
        name = stored.safe_filename(upload.name or "", "imported file")
        data = await upload.read(imports.max_bytes() + 1)  # one byte over is enough to say "too big"
        try:
            imports.validate_cad_upload(data)
        except DomainError as exc:
            self.error = f"{name}: {exc.message}"
            return rx.clear_selected_files(IMPORT_UPLOAD_ID)
        blob = stored.write_blob(uid, data, "upload")
        self._staged_path, self.filename, self.busy, self.error = blob.storage_path, name, True, ""
        self._into = await self._empty_open_chat(uid)
        return [rx.clear_selected_files(IMPORT_UPLOAD_ID), ImportState.run_import]

    async def _empty_open_chat(self, uid: uuid.UUID) -> str:
        """The open chat's id when it has nothing in it yet, else ''."""
        context_id = (await self.get_state(ActiveChatState)).context_id
        if not context_id:
            return ""
        try:
            with session_scope() as s:
                empty = chats.list_items(s, uid, context_id, limit=1).total == 0
        except DomainError:
            return ""
        return context_id if empty else ""

    @rx.event(background=True)
    async def run_import(self):
        from chat3d.domain import files as stored
        from chat3d.pipeline.imports import import_file

        async with self:
            uid = await signed_in_user_id(self)
            path, name, into, self._staged_path, self._into = self._staged_path, self.filename, self._into, "", ""
        if uid is None or not path:
            async with self:
                self.busy = False
            return
        try:
            data = stored.storage().read(path)
            result = await import_file(uid, data, name, context_id=into or None)
        except DomainError as exc:
            async with self:
                self.busy, self.error = False, exc.message
            return
        except Exception:
            async with self:
                self.busy, self.error = False, "Something went wrong while importing; try again."
            return
        finally:
            stored.remove_stored_paths([path])
        async with self:
            self.busy, self.open, self.error = False, False, ""
        if into:  # the open chat itself: open it again with what the import put in it (the chats list too)
            yield ChatReactionsState.open_chat
        else:  # the new chat's page opens it (and re-reads the chats list)
            yield rx.redirect(f"/chat/{result.context_id}")

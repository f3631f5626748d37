"""The composer: prompt, image attachments, per-chat model pickers, send."""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatContext, FileKind
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.domain.segments import file_ref
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import FileView, file_view

UPLOAD_ID = "composer-upload"
PROMPT_ID = "composer-prompt"
MAX_ATTACHMENTS = 4


def usable_models() -> tuple[list[str], list[str], dict[str, str], dict[str, str]]:
    """What users may pick now (usable, not turned off by an admin): conversation ids, codegen ids, friendly
    names by id (users see "GPT-4.1 mini", not "gpt-4.1-mini") and the defaults by stage; one configuration read."""
    from chat3d.domain.model_settings import load
    from chat3d.llm.registry import available_models

    config = load()
    models = [m for m in available_models(config.settings, probe_ollama=False) if m.id not in config.disabled]
    return ([m.id for m in models if "conversation" in m.stages], [m.id for m in models if "codegen" in m.stages],
            {m.id: m.label or m.id for m in models}, config.defaults)


def pick(current: str | None, options: list[str], default: str) -> str:
    if current and current in options:
        return current
    if default in options:
        return default
    return options[0] if options else ""


class ComposerState(rx.State):
    error: str = ""
    sending: bool = False
    attachments: list[FileView] = []
    conversation_models: list[str] = []
    codegen_models: list[str] = []
    model_labels: dict[str, str] = {}
    conversation_model: str = ""
    codegen_model: str = ""
    units: str = "mm"
    unit_options: list[str] = ["mm", "in"]
    # The prompt being typed, kept in state so nothing that re-renders the composer (an attachment
    # arriving, a model change) can lose it.
    draft: str = ""
    disabled_reason: str = ""

    async def _uid(self) -> uuid.UUID | None:
        auth = await self.get_state(AuthState)
        return auth._current_user_id()

    def _load_models(self, ctx: ChatContext | None) -> None:
        conv, code, self.model_labels, defaults = usable_models()
        self.conversation_models, self.codegen_models = conv, code
        self.conversation_model = pick(ctx.conversation_model_id if ctx else None, conv, defaults["conversation"])
        self.codegen_model = pick(ctx.codegen_model_id if ctx else None, code, defaults["codegen"])
        self.units = ctx.units if ctx else "mm"
        if not conv or not code:
            missing = "conversation" if not conv else "code generation"
            self.disabled_reason = (f"No {missing} model is usable right now: ask an administrator to add an API key "
                                    "or start the model server.")
        else:
            self.disabled_reason = ""

    async def _save_models(self, **changes: str) -> None:
        from chat3d.pipeline.queries import resolve_model
        from chat3d.state.chat import ThreadState

        uid = await self._uid()
        if uid is None:
            return
        thread = await self.get_state(ThreadState)
        try:
            for stage, value in changes.items():
                resolve_model(value, "conversation" if stage == "conversation_model_id" else "codegen", None)
            if thread.active_id:
                with session_scope() as s:
                    chats.update_context(s, uid, thread.active_id, **changes)
        except DomainError as exc:
            self.error = str(exc)
            return
        self.error = ""

    @rx.event
    async def set_conversation_model(self, value: str):
        self.conversation_model = value
        await self._save_models(conversation_model_id=value)

    @rx.event
    async def set_codegen_model(self, value: str):
        self.codegen_model = value
        await self._save_models(codegen_model_id=value)

    @rx.event
    async def set_units(self, value: str):
        """Millimetres or inches for this chat: the model is asked in these units and answers show them."""
        from chat3d.state.chat import ThreadState

        if value not in self.unit_options:
            return
        uid = await self._uid()
        thread = await self.get_state(ThreadState)
        if uid is None or not thread.active_id:
            self.units = value
            return
        try:
            with session_scope() as s:
                chats.update_context(s, uid, thread.active_id, units=value)
        except DomainError as exc:
            self.error = str(exc)
            return
        self.units = value
        await thread._load_items(uid, thread.active_id)
        from chat3d.state.chat_workbench import WorkbenchState

        (await self.get_state(WorkbenchState))._set_units(value)  # the viewer, sizes and parameters follow

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        from chat3d.domain.files import MAX_UPLOAD_BYTES, safe_filename, store_bytes, validate_image_upload

        uid = await self._uid()
        if uid is None:
            return
        self.error = ""
        added: list[FileView] = []
        for upload in files:
            if len(self.attachments) + len(added) >= MAX_ATTACHMENTS:
                self.error = f"At most {MAX_ATTACHMENTS} images can be attached to one message."
                break
            data = await upload.read(MAX_UPLOAD_BYTES + 1)  # one byte over is enough to say "too big"
            try:
                fmt = validate_image_upload(data)
                with session_scope() as s:
                    row = store_bytes(s, uid, data, fmt=fmt, kind=FileKind.upload,
                                      filename=safe_filename(upload.name or "", f"image.{fmt}"))
                    added.append(file_view(file_ref(row)))
            except DomainError as exc:
                self.error = f"{upload.name or 'Image'}: {exc}"
        self.attachments = [*self.attachments, *added]
        return rx.clear_selected_files(UPLOAD_ID)

    @rx.event
    def set_draft(self, value: str):
        self.draft = value[:8000]

    @rx.event
    def remove_attachment(self, file_id: str):
        self.attachments = [a for a in self.attachments if a.id != file_id]

    @rx.event
    async def send_example(self, prompt: str):
        return await self._send(prompt)

    @rx.event
    async def send(self, form: dict):
        return await self._send(str(form.get("prompt") or ""))

    async def _send(self, prompt: str):
        from chat3d.pipeline import queries
        from chat3d.pipeline.jobs import enqueue_after_commit
        from chat3d.state.chat import ThreadState, scroll_thread_end
        from chat3d.state.chat_contexts import ContextsState

        uid = await self._uid()
        if uid is None:
            return
        if self.disabled_reason:
            self.error = self.disabled_reason
            return
        if not prompt.strip():
            self.error = "Write what you would like to model."
            return
        thread = await self.get_state(ThreadState)
        new_chat = not thread.active_id
        from chat3d.state.chat_workbench import WorkbenchState

        workbench = await self.get_state(WorkbenchState)
        picked = None if new_chat else workbench._picked_for(thread.active_id)  # what the user pointed at
        try:
            with session_scope() as s:
                if new_chat:
                    ctx = chats.create_context(s, uid, conversation_model_id=self.conversation_model or None,
                                               codegen_model_id=self.codegen_model or None, units=self.units)
                    cid = str(ctx.id)
                else:
                    cid = thread.active_id
                sub = queries.submit_query(
                    s, uid, cid, prompt, attachments=[a.id for a in self.attachments],
                    conversation_model_id=self.conversation_model or None, codegen_model_id=self.codegen_model or None,
                    selection=picked,
                )
                qid, aid = sub.query.id, str(sub.assistant_item.id)
                enqueue_after_commit(s, qid)
        except DomainError as exc:
            self.error = str(exc)
            return
        self.error, self.attachments, self.draft = "", [], ""
        workbench._clear_picked()  # the selection went with this message
        contexts = await self.get_state(ContextsState)
        contexts._reload(uid)
        events: list = [rx.set_value(PROMPT_ID, "")]
        await thread._load_items(uid, cid)
        if new_chat:
            # The page for the new chat keeps these items and their live progress (same chat id).
            thread.active_id, thread.loaded = cid, True
            contexts.active_id = cid
            events += [ThreadState.watch_query(str(qid), aid), rx.redirect(f"/chat/{cid}")]
            return events
        events += [ThreadState.watch_query(str(qid), aid), scroll_thread_end()]
        return events

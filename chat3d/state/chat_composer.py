"""The composer: prompt, image attachments, per-chat model pickers, units.

Sending and changing the units reach other panes, so their handlers are chat_reactions'; they call this
module's functions (plain functions: Reflex makes every public state method an event handler)."""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatContext, FileKind
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.domain.segments import file_ref
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.chat_view import FileView, file_view

UPLOAD_ID = "composer-upload"
PROMPT_ID = "composer-prompt"
MAX_ATTACHMENTS = 4


def usable_models() -> tuple[list[str], list[str], dict[str, str], dict[str, str]]:
    """What users may pick now (usable, not turned off by an admin): conversation ids, codegen ids, friendly
    names by id (users see "GPT-4.1 mini", not "gpt-4.1-mini") and the defaults by stage; one configuration read."""
    from chat3d.domain.model_settings import load, pickable_models

    config = load()
    models = pickable_models(config)
    return (
        [m.id for m in models if "conversation" in m.stages],
        [m.id for m in models if "codegen" in m.stages],
        {m.id: m.label or m.id for m in models},
        config.defaults,
    )


def pick(current: str | None, options: list[str], default: str) -> str:
    if current and current in options:
        return current
    if default in options:
        return default
    return options[0] if options else ""


class ComposerState(rx.State):
    error: str = ""
    sending: bool = False
    attachments: rx.Field[list[FileView]] = rx.field(default_factory=list)
    conversation_models: list[str] = []
    codegen_models: list[str] = []
    model_labels: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    conversation_model: str = ""
    codegen_model: str = ""
    units: str = "mm"
    unit_options: list[str] = ["mm", "in"]
    # The prompt being typed, kept in state so nothing that re-renders the composer (an attachment
    # arriving, a model change) can lose it.
    draft: str = ""
    disabled_reason: str = ""

    async def _save_models(self, **changes: str) -> None:
        """Store the open chat's model choice (the domain refuses one not usable now); with no chat open, the
        choice goes with the first message (create_context checks it then)."""
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        context_id = (await self.get_state(ActiveChatState)).context_id
        try:
            if context_id:
                with session_scope() as s:
                    chats.update_context(s, uid, context_id, **changes)
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
    async def handle_upload(self, files: list[rx.UploadFile]):
        from chat3d.domain.files import MAX_UPLOAD_BYTES, safe_filename, store_bytes, validate_image_upload

        uid = await signed_in_user_id(self)
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
                    row = store_bytes(
                        s,
                        uid,
                        data,
                        fmt=fmt,
                        kind=FileKind.upload,
                        filename=safe_filename(upload.name or "", f"image.{fmt}"),
                    )
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


# --- what other modules call (chat_reactions) ---------------------------------------------------------------


def load_models(composer: ComposerState, ctx: ChatContext | None) -> None:
    """The pickers for a chat (its models and units; for no chat, the defaults)."""
    conv, code, composer.model_labels, defaults = usable_models()
    composer.conversation_models, composer.codegen_models = conv, code
    composer.conversation_model = pick(ctx.conversation_model_id if ctx else None, conv, defaults["conversation"])
    composer.codegen_model = pick(ctx.codegen_model_id if ctx else None, code, defaults["codegen"])
    composer.units = ctx.units if ctx else "mm"
    if not conv or not code:
        missing = "conversation" if not conv else "code generation"
        composer.disabled_reason = (
            f"No {missing} model is usable right now: ask an administrator to add an API key or start the model server."
        )
    else:
        composer.disabled_reason = ""


def save_units(composer: ComposerState, uid: uuid.UUID, context_id: str, value: str) -> bool:
    """Millimetres or inches for the open chat (or the next new chat when none is open); False when refused."""
    if value not in composer.unit_options:
        return False
    if context_id:
        try:
            with session_scope() as s:
                chats.update_context(s, uid, context_id, units=value)
        except DomainError as exc:
            composer.error = str(exc)
            return False
    composer.units = value
    return True


def submit(composer: ComposerState, uid: uuid.UUID, context_id: str, prompt: str, picked: dict | None):
    """Submit a prompt to the open chat (a new chat when `context_id` is ''), with the attachments and the picked
    geometry, and clear the composer: (chat id, query id, assistant item id), or None with `composer.error` set.
    The job starts once this commits."""
    from chat3d.pipeline import queries
    from chat3d.pipeline.jobs import enqueue_after_commit

    if composer.disabled_reason:
        composer.error = composer.disabled_reason
        return None
    if not prompt.strip():
        composer.error = "Write what you would like to model."
        return None
    try:
        with session_scope() as s:
            if not context_id:
                context_id = str(
                    chats.create_context(
                        s,
                        uid,
                        conversation_model_id=composer.conversation_model or None,
                        codegen_model_id=composer.codegen_model or None,
                        units=composer.units,
                    ).id
                )
            sub = queries.submit_query(
                s,
                uid,
                context_id,
                prompt,
                attachments=[a.id for a in composer.attachments],
                conversation_model_id=composer.conversation_model or None,
                codegen_model_id=composer.codegen_model or None,
                selection=picked,
            )
            qid, aid = sub.query.id, str(sub.assistant_item.id)
            enqueue_after_commit(s, qid)
    except DomainError as exc:
        composer.error = str(exc)
        return None
    composer.error, composer.attachments, composer.draft = "", [], ""
    return context_id, qid, aid

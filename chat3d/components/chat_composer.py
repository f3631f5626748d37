"""The composer: the prompt (Enter sends, Shift+Enter new line), image attachments, model pickers, Send/Stop."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from chat3d.components.chat_import import import_dialog
from chat3d.components.forms import form
from chat3d.state.chat import ThreadState
from chat3d.state.chat_composer import PROMPT_ID, UPLOAD_ID, ComposerState
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_view import FileView
from chat3d.state.chat_workbench import PickedView, WorkbenchState

# Enter submits the form (unless Shift is held or an IME is composing); the browser does the rest.
# Passed as a raw attribute: an event trigger would hand the function (key, modifiers), not the event.
# (A raw JavaScript expression: the Var's type is Var's default, Any.)
ENTER_SENDS: rx.Var[Any] = rx.Var(
    "((e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {"
    " e.preventDefault(); const f = e.currentTarget.form; if (f) { f.requestSubmit(); } } })"
)
IMAGE_TYPES = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]}


def _attachment(f: ObjectVar[FileView]) -> rx.Component:
    return rx.box(
        rx.image(
            src=f.url,
            alt=f.filename,
            width="56px",
            height="56px",
            object_fit="cover",
            border_radius="var(--radius-2)",
            border="1px solid var(--gray-a6)",
        ),
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="solid",
            color_scheme="gray",
            radius="full",
            type="button",
            aria_label="Remove " + f.filename.to(str),
            on_click=ComposerState.remove_attachment(f.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
            position="absolute",
            top="-6px",
            right="-6px",
        ),
        position="relative",
    )


def _picked_chip(p: ObjectVar[PickedView]) -> rx.Component:
    """A face or edge picked in the viewer, in words; it goes with the next message."""
    return rx.badge(
        rx.icon("mouse-pointer-click", size=12),
        rx.text.span(p.label),
        rx.icon_button(
            rx.icon("x", size=11),
            size="1",
            variant="ghost",
            color_scheme="gray",
            radius="full",
            type="button",
            aria_label="Remove " + p.label.to(str),
            on_click=WorkbenchState.unpick(p.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
        ),
        variant="soft",
        size="2",
        radius="full",
        role="listitem",
        data_testid="selection-chip",
        custom_attrs={"data-id": p.id},
        style={"gap": "6px", "align_items": "center"},
    )


def _picked() -> rx.Component:
    return rx.cond(
        WorkbenchState.picked.length() > 0,
        rx.vstack(
            rx.hstack(
                rx.foreach(WorkbenchState.picked, _picked_chip),
                wrap="wrap",
                spacing="2",
                role="list",
                aria_label="Selected geometry (goes with your next message)",
                padding_top="0.4em",
            ),
            rx.cond(
                WorkbenchState.picked_note != "", rx.text(WorkbenchState.picked_note, size="1", color_scheme="orange")
            ),
            spacing="1",
            width="100%",
        ),
    )


def _model_select(label: str, options, value, on_change) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=label, title=label),
        rx.select.content(rx.foreach(options, lambda m: rx.select.item(m, value=m))),
        value=value,
        on_change=on_change,
        size="1",
    )


def _labelled_model_select(label: str, options, value, on_change) -> rx.Component:
    """A model picker showing friendly names; the value sent is still the model id."""
    return rx.select.root(
        rx.select.trigger(aria_label=label, title=label),
        rx.select.content(
            rx.foreach(options, lambda m: rx.select.item(ComposerState.model_labels[m].to(str), value=m))
        ),
        value=value,
        on_change=on_change,
        size="1",
    )


def units_picker() -> rx.Component:
    """Millimetres or inches for the open chat (shown in the thread header)."""
    return rx.tooltip(
        rx.box(_model_select("Units", ComposerState.unit_options, ComposerState.units, ChatReactionsState.set_units)),
        content="Units of this chat: the model is asked in them and answers show them",
    )


def composer() -> rx.Component:
    disabled = ComposerState.disabled_reason != ""
    return form(
        rx.vstack(
            _picked(),
            rx.cond(
                ComposerState.attachments.length() > 0,
                rx.hstack(rx.foreach(ComposerState.attachments, _attachment), spacing="3", padding_top="0.4em"),
            ),
            rx.text_area(
                id=PROMPT_ID,
                name="prompt",
                aria_label="Prompt",
                value=ComposerState.draft,
                on_change=ComposerState.set_draft,
                placeholder="Describe a part… (Enter sends, Shift+Enter adds a line)",
                rows="3",
                max_length=8000,
                resize="vertical",
                width="100%",
                disabled=disabled,
                custom_attrs={"onKeyDown": ENTER_SENDS},
            ),
            rx.hstack(
                rx.upload(
                    rx.tooltip(rx.icon("image-plus", size=18), content="Attach images (click, or drop them here)"),
                    id=UPLOAD_ID,
                    accept=IMAGE_TYPES,
                    multiple=True,
                    max_files=4,
                    on_drop=ComposerState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    border="1px dashed var(--gray-a7)",
                    border_radius="var(--radius-2)",
                    padding="0.3em 0.45em",
                    line_height="0",
                    cursor="pointer",
                    aria_label="Attach image (click or drop files here)",
                    role="button",
                ),
                import_dialog(),
                _labelled_model_select(
                    "Conversation model",
                    ComposerState.conversation_models,
                    ComposerState.conversation_model,
                    ComposerState.set_conversation_model,
                ),
                _labelled_model_select(
                    "Code model",
                    ComposerState.codegen_models,
                    ComposerState.codegen_model,
                    ComposerState.set_codegen_model,
                ),
                rx.spacer(),
                rx.cond(
                    ThreadState.is_running,
                    rx.button(
                        rx.icon("square", size=14),
                        "Stop",
                        type="button",
                        color_scheme="red",
                        variant="soft",
                        size="2",
                        on_click=ThreadState.stop,
                    ),
                    rx.button(
                        rx.icon("send", size=14), "Send", type="submit", id="composer-send", size="2", disabled=disabled
                    ),
                ),
                spacing="2",
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.cond(
                ComposerState.error != "", rx.text(ComposerState.error, color_scheme="red", size="2", role="alert")
            ),
            rx.cond(disabled, rx.text(ComposerState.disabled_reason, color_scheme="orange", size="2")),
            spacing="2",
            width="100%",
        ),
        on_submit=ChatReactionsState.send,
        reset_on_submit=False,
        width="100%",
        padding="0.75em 1em 1em",
        border_top="1px solid var(--gray-a4)",
    )

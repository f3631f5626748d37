"""The contexts pane: chats grouped by recency, search, new chat, inline rename, delete with confirmation."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from chat3d.state.active_chat import ActiveChatState
from chat3d.state.chat_contexts import ContextsState
from chat3d.state.chat_view import ContextRow
from chat3d.state.layout import LayoutState

THUMB = "36px"


def _thumb(url) -> rx.Component:
    """The current version's isometric PNG (decorative: the name beside it is the link's text), or a neutral
    box icon while the chat has no model."""
    frame = {
        "width": THUMB,
        "height": THUMB,
        "flex_shrink": "0",
        "border_radius": "var(--radius-2)",
        "border": "1px solid var(--gray-a5)",
    }
    return rx.cond(
        url != "",
        rx.image(
            src=url,
            alt="",
            loading="lazy",
            object_fit="contain",
            background="white",
            padding="2px",
            data_testid="chat-thumb",
            **frame,
        ),
        rx.center(
            rx.icon("box", size=16, color="var(--gray-8)"),
            background="var(--gray-a2)",
            data_testid="chat-thumb-empty",
            aria_hidden="true",
            **frame,
        ),
    )


# The inline rename editor is plain elements styled by one rule set on the pane (RENAME_CSS), not a Radix
# TextField + two IconButtons with per-element emotion classes: it mounts fewer nodes and no per-element styles.
RENAME_CSS = {
    "& .ctx-rename": {"display": "flex", "gap": "var(--space-1)", "width": "100%", "align_items": "center"},
    "& .ctx-rename-input": {
        "flex": "1",
        "min_width": "0",
        "height": "var(--space-6)",
        "padding": "0 var(--space-2)",
        "font": "inherit",
        "font_size": "var(--font-size-2)",
        "color": "var(--gray-12)",
        "background": "var(--color-surface)",
        "border": "1px solid var(--gray-a7)",
        "border_radius": "var(--radius-2)",
        "outline": "none",
    },
    "& .ctx-rename-input:focus": {"outline": "2px solid var(--focus-8)", "outline_offset": "-1px"},
    "& .ctx-rename-btn": {
        "display": "inline-flex",
        "align_items": "center",
        "justify_content": "center",
        "flex_shrink": "0",
        "width": "var(--space-6)",
        "height": "var(--space-6)",
        "padding": "0",
        "border": "none",
        "border_radius": "var(--radius-2)",
        "cursor": "pointer",
    },
    "& .ctx-rename-btn:focus-visible": {"outline": "2px solid var(--focus-8)", "outline_offset": "2px"},
    "& .ctx-rename-save": {"background": "var(--accent-9)", "color": "var(--accent-contrast)"},
    "& .ctx-rename-save:hover": {"background": "var(--accent-10)"},
    "& .ctx-rename-cancel": {"background": "var(--gray-a3)", "color": "var(--gray-a11)"},
    "& .ctx-rename-cancel:hover": {"background": "var(--gray-a4)"},
}


def _rename_form(row: ObjectVar[ContextRow]) -> rx.Component:
    return rx.el.form(
        rx.el.input(
            name="name",
            default_value=row.name,
            aria_label="Chat name",
            auto_focus=True,
            max_length=200,
            on_key_down=ContextsState.rename_key,
            class_name="ctx-rename-input",
        ),
        rx.el.button(
            rx.icon("check", size=16),
            type="submit",
            aria_label="Save name",
            class_name="ctx-rename-btn ctx-rename-save",
        ),
        rx.el.button(
            rx.icon("x", size=16),
            type="button",
            aria_label="Cancel rename",
            class_name="ctx-rename-btn ctx-rename-cancel",
            on_click=ContextsState.cancel_rename,
        ),
        on_submit=ContextsState.rename,
        reset_on_submit=False,
        class_name="ctx-rename",
    )


@rx.memo
def context_row(row: ObjectVar[ContextRow], editing: rx.Var[bool], active: rx.Var[bool]) -> rx.Component:
    """One chat row as its own React.memo component fed by props: opening, closing or saving a rename
    re-renders only the rows whose `editing`/`active` flag or row object changed (Reflex's applyDelta keeps
    unchanged rows' identity), not all of up to 200 rows."""
    return rx.fragment(
        rx.cond(
            row.show_header,
            rx.text(row.group, size="1", weight="medium", color_scheme="gray", padding="0.75em 0.5em 0.25em"),
        ),
        rx.cond(
            editing,
            _rename_form(row),
            rx.hstack(
                rx.link(
                    rx.hstack(
                        _thumb(row.thumb_url),
                        rx.text(
                            row.name,
                            size="2",
                            trim="both",
                            overflow="hidden",
                            text_overflow="ellipsis",
                            white_space="nowrap",
                            min_width="0",
                        ),
                        spacing="2",
                        align="center",
                        min_width="0",
                    ),
                    href="/chat/" + row.id.to(str),
                    underline="none",
                    color="inherit",
                    flex="1",
                    min_width="0",
                    padding="0.3em 0.4em",
                    aria_current=rx.cond(active, "page", "false"),
                    on_click=LayoutState.show_pane("thread"),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
                rx.icon_button(
                    rx.icon("pencil", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Rename chat " + row.name.to(str),
                    on_click=ContextsState.start_rename(row.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Delete chat " + row.name.to(str),
                    on_click=ContextsState.ask_delete(row.id, row.name),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
                spacing="1",
                align="center",
                width="100%",
                padding_right="0.4em",
                border_radius="var(--radius-2)",
                background=rx.cond(active, "var(--accent-a4)", "transparent"),
                _hover={"background": rx.cond(active, "var(--accent-a5)", "var(--gray-a3)")},
                data_testid="chat-row",
            ),
        ),
    )


def _row(row: ObjectVar[ContextRow]) -> rx.Component:
    return context_row(row=row, editing=ContextsState.editing_id == row.id, active=ActiveChatState.context_id == row.id)


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this chat?"),
            rx.alert_dialog.description(
                rx.text.span("“"),
                rx.text.span(ContextsState.delete_name),
                rx.text.span("”"),
                " and all its models and files will be deleted. This cannot be undone.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=ContextsState.cancel_delete)
                ),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=ContextsState.confirm_delete)),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=ContextsState.delete_id != "",
    )


def contexts_pane() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Chats", size="3", as_="h2"),
            rx.spacer(),
            rx.button(rx.icon("plus", size=16), "New chat", size="2", on_click=ContextsState.new_chat),
            width="100%",
            align="center",
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Search chats",
            aria_label="Search chats",
            type="search",
            on_change=ContextsState.set_search.debounce(250),  # type: ignore[attr-defined]  # mypy reads an @rx.event handler as EventNamespace
            width="100%",
        ),
        rx.cond(ContextsState.error != "", rx.callout(ContextsState.error, color_scheme="red", role="alert", size="1")),
        rx.box(
            rx.cond(
                ContextsState.rows.length() == 0,
                rx.text(
                    rx.cond(ContextsState.search != "", "No chats match your search.", "No chats yet."),
                    size="2",
                    color_scheme="gray",
                    padding="0.5em",
                ),
            ),
            rx.foreach(ContextsState.rows, _row),
            as_="nav",
            aria_label="Chats",
            width="100%",
            flex="1",
            overflow_y="auto",
            min_height="0",
        ),
        _delete_dialog(),
        spacing="3",
        height="100%",
        width="100%",
        padding="1em 0.75em",
        style=RENAME_CSS,
    )

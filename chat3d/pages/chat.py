"""The chat workspace: contexts | thread + composer | workbench; one pane at a time on narrow screens."""

from __future__ import annotations

import reflex as rx

from chat3d.components.chat_composer import composer
from chat3d.components.chat_contexts import contexts_pane
from chat3d.components.chat_thread import thread_pane
from chat3d.components.chat_workbench import workbench_pane
from chat3d.components.layout import app_shell
from chat3d.state.auth import AuthState
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.layout import LayoutState

NARROW = "@media (max-width: 1023px)"
SWITCH = "52px"


def _pane(name: str, child: rx.Component, **props) -> rx.Component:
    return rx.box(
        child,
        class_name=rx.cond(LayoutState.pane == name, "ws-pane ws-active", "ws-pane"),
        display="flex",
        min_width="0",
        min_height="0",
        height="100%",
        overflow="hidden",
        data_pane=name,
        **props,
    )


def _switch() -> rx.Component:
    return rx.box(
        rx.segmented_control.root(
            rx.segmented_control.item("Chats", value="chats"),
            rx.segmented_control.item("Thread", value="thread"),
            rx.segmented_control.item("Preview", value="preview"),
            value=LayoutState.pane,
            on_change=LayoutState.show_pane,
            width="100%",
            aria_label="Show pane",
        ),
        padding="0.5em 0.75em",
        height=SWITCH,
        flex_shrink="0",
        border_bottom="1px solid var(--gray-a4)",
        style={"@media (min-width: 1024px)": {"display": "none"}},
        data_testid="pane-switch",
    )


def workspace() -> rx.Component:
    """The page below the top bar: its height is what the bar leaves (app_shell(fill=True)), whatever the bar's
    height (it wraps on a phone), so the panes never push the page into scrolling."""
    return rx.fragment(
        _switch(),
        rx.box(
            _pane("chats", contexts_pane(), border_right="1px solid var(--gray-a4)", background="var(--gray-a2)"),
            _pane("thread", thread_pane(composer())),
            _pane("preview", workbench_pane(), border_left="1px solid var(--gray-a4)"),
            style={
                "display": "grid",
                "gridTemplateColumns": "260px minmax(0, 1fr) minmax(0, 1fr)",
                "gridTemplateRows": "minmax(0, 1fr)",
                "flex": "1",
                "minHeight": "0",
                NARROW: {
                    "gridTemplateColumns": "minmax(0, 1fr)",
                    "& > .ws-pane": {"display": "none"},
                    "& > .ws-pane.ws-active": {"display": "flex"},
                },
            },
            data_testid="workspace",
        ),
    )


def chat_page() -> rx.Component:
    return app_shell(workspace(), fill=True)


ON_LOAD = [AuthState.require_login, ChatReactionsState.open_chat]


def register(app: rx.App) -> None:
    """`/chat` (the last chat, or the empty state) and `/chat/[context_id]`."""
    app.add_page(chat_page, route="/chat", title="Chat3D", on_load=ON_LOAD)
    app.add_page(chat_page, route="/chat/[context_id]", title="Chat3D", on_load=ON_LOAD)

"""Which pane a narrow screen shows: the chat page's layout, apart from what the panes hold."""

from __future__ import annotations

import reflex as rx


class LayoutState(rx.State):
    """Which pane a narrow screen shows (wide screens show all three)."""

    pane: str = "thread"

    @rx.event
    def show_pane(self, pane: str | list[str]):
        value = pane[0] if isinstance(pane, list) and pane else pane
        if value in ("chats", "thread", "preview"):
            self.pane = value

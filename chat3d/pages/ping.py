"""/dev/ping: the lightest possible Reflex page, the baseline of the UI round-trip benchmark (bench/ui_bench.py).

One button whose handler flips one state var that the page shows: a Reflex event round trip (WebSocket →
handler → one-field delta → React render of one text node) with nothing else on the page, not even the
public shell. Registered in development only, like /dev/mailbox.
"""

from __future__ import annotations

import reflex as rx


class PingState(rx.State):
    on: bool = False

    @rx.event
    def toggle(self):
        self.on = not self.on


def ping_page() -> rx.Component:
    return rx.box(
        rx.button("Ping", on_click=PingState.toggle, id="ping-button"),
        rx.text(rx.cond(PingState.on, "on", "off"), id="ping-out"),
        padding="2em",
    )

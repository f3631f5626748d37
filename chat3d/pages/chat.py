"""The signed-in workspace landing page (the full three-pane workspace grows here)."""

import reflex as rx

from chat3d.components.layout import app_shell
from chat3d.state.auth import AuthState


def chat_page() -> rx.Component:
    return app_shell(
        rx.center(
            rx.vstack(
                rx.heading(rx.text.span("Welcome, "), rx.text.span(AuthState.user_label), size="6"),
                rx.text("Describe a part to start a new chat.", color_scheme="gray"),
                spacing="3",
                align="center",
            ),
            padding="4em 1em",
        )
    )

"""Page frames: the public shell (signed-out pages) with the top bar and footer."""

import reflex as rx


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("box", size=22), rx.heading("Chat3D", size="5"), spacing="2", align="center"),
        href="/",
        underline="none",
        color="inherit",
    )


def public_shell(*children: rx.Component) -> rx.Component:
    return rx.box(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.color_mode.button(aria_label="Toggle light and dark theme"),
            padding="0.75em 1.25em",
            border_bottom="1px solid var(--gray-a5)",
            align="center",
            width="100%",
        ),
        rx.box(*children, as_="main", width="100%"),
        rx.hstack(
            rx.text("Chat3D", size="1", color_scheme="gray"),
            rx.link("Privacy", href="/privacy", size="1"),
            rx.link("Terms", href="/terms", size="1"),
            spacing="4",
            justify="center",
            padding="2em",
            width="100%",
        ),
        min_height="100vh",
    )

"""The public home page: what Chat3D does and where to start."""

import reflex as rx

from chat3d.components.layout import public_shell
from chat3d.state.waitlist import HomeCtaState


def _feature(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=22),
            rx.heading(title, size="3"),
            rx.text(text, size="2", color_scheme="gray"),
            spacing="2",
        ),
        width="100%",
    )


def page() -> rx.Component:
    return public_shell(
        rx.vstack(
            rx.heading("Describe a part. Get a real CAD model.", size="8", align="center"),
            rx.text(
                "Chat3D turns plain-language requests into build123d programs, renders them in a sandbox "
                "and shows the part in 3D, with STL, STEP, 3MF and source downloads.",
                size="4",
                align="center",
                color_scheme="gray",
                max_width="42em",
            ),
            rx.hstack(
                rx.cond(
                    HomeCtaState.waitlist_enabled,
                    rx.link(rx.button("Join the waitlist", size="3"), href="/waitlist"),
                    rx.link(rx.button("Get started", size="3"), href="/register"),
                ),
                rx.link(rx.button("Sign in", size="3", variant="outline"), href="/login"),
                spacing="3",
                on_mount=HomeCtaState.load,
            ),
            rx.grid(
                _feature("message-square", "Chat to model", "Iterate by conversation: 'make it 10 mm thicker'."),
                _feature("shield-check", "Sandboxed rendering", "Model-written code runs isolated, never in the app."),
                _feature("download", "Real CAD files", "STEP for CAD, STL and 3MF for printing, the source for you."),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="4",
                width="100%",
                max_width="60em",
            ),
            spacing="6",
            align="center",
            padding_y="4em",
            padding_x="1em",
        )
    )

"""Form pieces with real labels (browser checks and screen readers find fields by them)."""

from __future__ import annotations

import reflex as rx


def field(label: str, name: str, *, type_: str = "text", id_: str | None = None, hint: str | None = None, **input_props) -> rx.Component:
    input_id = id_ or f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"fontWeight": 500, "fontSize": "var(--font-size-2)"}),
        rx.input(id=input_id, name=name, type=type_, width="100%", size="3", **input_props),
        rx.cond(hint is not None, rx.text(hint or "", size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        align="start",
    )


def error_callout(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def auth_card(title: str, subtitle: str, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading(title, size="6"),
                rx.text(subtitle, size="2", color_scheme="gray"),
                *children,
                spacing="4",
                width="100%",
            ),
            width="100%",
            max_width="26em",
            size="4",
        ),
        padding_y="3em",
        padding_x="1em",
    )

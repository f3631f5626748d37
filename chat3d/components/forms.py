"""Form pieces with real labels (browser checks and screen readers find fields by them), and the rule that a form
never sends its fields before the page is live.

Pages are prerendered HTML: until Reflex's scripts run and the websocket has hydrated the state, a form is a plain
HTML form, and the browser's own submission (a GET to the page) would put a password or an email address in the
URL, the history and access logs, and lose what was typed (a fast click on a slow connection). So every form is
`form(...)` with its button `submit_button(...)`:
- the submit button stays disabled until the state is hydrated (`rx.State.is_hydrated`), which also blocks Enter;
- the form itself posts (never a GET) to `FORM_NOT_LIVE_URL`, which answers 204 so the page stays as it is with
  its fields filled: that catches a submission past the button (a password manager's scripted submit).
Once live, Reflex's `on_submit` handler takes over (it prevents the browser's submission). `data-live` on the form
says which of the two it is (browser tests wait for it).
"""

from __future__ import annotations

import reflex as rx


def field(
    label: str, name: str, *, type_: str = "text", id_: str | None = None, hint: str | None = None, **input_props
) -> rx.Component:
    input_id = id_ or f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"fontWeight": 500, "fontSize": "var(--font-size-2)"}),
        rx.input(id=input_id, name=name, type=type_, width="100%", size="3", **input_props),
        rx.cond(hint is not None, rx.text(hint or "", size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        align="start",
    )


FORM_NOT_LIVE_URL = "/api/public/form-not-live"


def form(*children: rx.Component, **props) -> rx.Component:
    """`rx.form` that never submits its fields in a URL, whether or not the page is live yet."""
    return rx.form(
        *children,
        method="post",
        action=FORM_NOT_LIVE_URL,
        custom_attrs={"data-live": rx.cond(rx.State.is_hydrated, "true", "false")},
        **props,
    )


def submit_button(label, *, disabled: rx.Var[bool] | bool = False, **props) -> rx.Component:
    """The form's submit button: it cannot be pressed until the page is live (the fields stay as typed)."""
    not_live = ~rx.State.is_hydrated
    return rx.button(label, type="submit", disabled=not_live if disabled is False else not_live | disabled, **props)


def error_callout(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "", rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%")
    )


def auth_card(title: str, subtitle: str | rx.Var[str], *children: rx.Component) -> rx.Component:
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

"""Mail-link landing pages and public account forms: /profile/actions/confirm, /reset-password,
/forgot-password, /reactivate. Opening a link changes nothing; only a button press does."""

from __future__ import annotations

import reflex as rx

from chat3d.components.forms import auth_card, error_callout, field, form, submit_button
from chat3d.components.layout import public_shell
from chat3d.state.account_actions import ActionConfirmState, EmailFormState, ResetPasswordState

_ICONS = {
    "password_reset": "key-round",
    "email_change": "mail",
    "data_export": "archive",
    "account_delete": "trash-2",
    "account_reactivate": "rotate-ccw",
}


def _spinner() -> rx.Component:
    return rx.center(rx.spinner(size="3"), width="100%", padding="1em")


def _ok(message) -> rx.Component:
    return rx.callout(message, icon="circle-check", color_scheme="green", role="status", width="100%")


def _next_button(label, href) -> rx.Component:
    return rx.link(rx.button(label, size="3", width="100%", variant="soft"), href=href, width="100%")


def confirm_page() -> rx.Component:
    s = ActionConfirmState
    return public_shell(
        auth_card(
            "Confirm a change to your account",
            s.subtitle,
            rx.match(
                s.phase,
                ("loading", _spinner()),
                ("done", rx.vstack(_ok(s.message), _next_button(s.next_label, s.next_href), spacing="3", width="100%")),
                (
                    "refused",
                    rx.vstack(
                        rx.callout(s.message, icon="triangle_alert", color_scheme="amber", role="alert", width="100%"),
                        _next_button(s.next_label, s.next_href),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.vstack(
                    rx.hstack(
                        rx.match(
                            s.action_type,
                            *[(k, rx.icon(v, size=22)) for k, v in _ICONS.items()],
                            rx.icon("circle-help", size=22),
                        ),
                        rx.heading(s.label, size="4", id="action-label"),
                        spacing="2",
                        align="center",
                    ),
                    rx.cond(s.masked_email != "", rx.text("New address: ", rx.text.strong(s.masked_email), size="2")),
                    rx.text(s.what_happens, size="2", color_scheme="gray"),
                    rx.button(
                        rx.cond(s.action_type == "account_delete", "Confirm: delete my account", "Confirm"),
                        size="3",
                        width="100%",
                        on_click=s.confirm,
                        loading=s.phase == "working",
                        color_scheme=rx.cond(s.action_type == "account_delete", "red", "accent"),
                    ),
                    rx.text(
                        "Did not ask for this? Close this page: nothing happens without the button.",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
        )
    )


def reset_password_page() -> rx.Component:
    s = ResetPasswordState
    return public_shell(
        auth_card(
            "Choose a new password",
            "Every session of your account is signed out when the new password is set.",
            rx.match(
                s.phase,
                ("loading", _spinner()),
                ("done", rx.vstack(_ok(s.message), _next_button("Sign in", "/login"), spacing="3", width="100%")),
                (
                    "refused",
                    rx.vstack(
                        rx.callout(s.message, icon="triangle_alert", color_scheme="amber", role="alert", width="100%"),
                        _next_button("Ask for a new link", "/forgot-password"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.vstack(
                    error_callout(s.error),
                    form(
                        rx.vstack(
                            field(
                                "New password",
                                "new_password",
                                type_="password",
                                required=True,
                                min_length=8,
                                auto_complete="new-password",
                                auto_focus=True,
                                hint="At least 8 characters, not a common password.",
                            ),
                            field(
                                "Repeat the new password",
                                "repeat_password",
                                type_="password",
                                required=True,
                                min_length=8,
                                auto_complete="new-password",
                            ),
                            submit_button("Set new password", size="3", width="100%", loading=s.phase == "working"),
                            spacing="4",
                            width="100%",
                        ),
                        id="reset-form",
                        on_submit=s.submit,
                        reset_on_submit=False,
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
        )
    )


def _email_form(title: str, subtitle: str, form_id: str, on_submit, button: str, footer: rx.Component) -> rx.Component:
    s = EmailFormState
    return public_shell(
        auth_card(
            title,
            subtitle,
            error_callout(s.error),
            rx.cond(
                s.sent_message != "",
                rx.callout(s.sent_message, icon="mail-check", color_scheme="green", role="status", width="100%"),
                form(
                    rx.vstack(
                        field("Email", "email", type_="email", required=True, auto_complete="email", auto_focus=True),
                        submit_button(button, size="3", width="100%", loading=s.submitting),
                        spacing="4",
                        width="100%",
                    ),
                    id=form_id,
                    on_submit=on_submit,
                    reset_on_submit=False,
                    width="100%",
                ),
            ),
            footer,
        )
    )


def forgot_password_page() -> rx.Component:
    return _email_form(
        "Forgot your password?",
        "Enter your account's email address and we send you a link to choose a new password.",
        "forgot-form",
        EmailFormState.submit_forgot,
        "Send me a link",
        rx.hstack(rx.link("Back to sign in", href="/login", size="2"), width="100%"),
    )


def reactivate_page() -> rx.Component:
    return _email_form(
        "Reactivate your account",
        "Deleted your account less than 30 days ago? Enter its email address and confirm the link we send you: "
        "everything comes back as you left it.",
        "reactivate-form",
        EmailFormState.submit_reactivate,
        "Send me a reactivation link",
        rx.text(
            "Suspended by an administrator? Only they can lift it. ",
            rx.link("Back to sign in", href="/login"),
            size="2",
            color_scheme="gray",
        ),
    )

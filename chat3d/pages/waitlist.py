"""/waitlist (join), /waitlist/confirm (preview + Confirm button), /waitlist/status (where a request stands)."""

from __future__ import annotations

import reflex as rx

from chat3d.components.forms import auth_card, error_callout, field, form, submit_button
from chat3d.components.layout import public_shell
from chat3d.state.waitlist import WaitlistConfirmState, WaitlistJoinState, WaitlistStatusState


def join_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Join the waitlist",
            "Chat3D opens gradually. Leave your email: you confirm it, an administrator approves, and you get a registration link.",
            error_callout(WaitlistJoinState.error),
            rx.cond(
                WaitlistJoinState.submitted,
                rx.callout(
                    WaitlistJoinState.message, icon="mail-check", color_scheme="green", role="status", width="100%"
                ),
                form(
                    rx.vstack(
                        field("Email", "email", type_="email", required=True, auto_complete="email", auto_focus=True),
                        rx.el.label(
                            rx.hstack(
                                rx.checkbox(name="marketing_consent", id="field-marketing-consent"),
                                rx.text(
                                    "Send me occasional news about Chat3D (you can unsubscribe from any of them).",
                                    size="2",
                                ),
                                spacing="2",
                                align="start",
                            ),
                            html_for="field-marketing-consent",
                        ),
                        submit_button("Join the waitlist", size="3", width="100%"),
                        spacing="4",
                        width="100%",
                    ),
                    id="waitlist-form",
                    on_submit=WaitlistJoinState.submit,
                    reset_on_submit=False,
                    width="100%",
                ),
            ),
            rx.text("Already have an account? ", rx.link("Sign in", href="/login"), size="2"),
        )
    )


def confirm_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Confirm your email",
            "One click puts you on the waitlist.",
            rx.cond(
                ~WaitlistConfirmState.checked,
                rx.center(rx.spinner(size="3"), width="100%"),
                rx.cond(
                    WaitlistConfirmState.confirmed,
                    rx.vstack(
                        rx.callout(
                            "Thanks, you are on the waitlist.",
                            icon="circle-check",
                            color_scheme="green",
                            role="status",
                            width="100%",
                        ),
                        rx.text(WaitlistConfirmState.status_text, size="2"),
                        rx.link(
                            "See the status of my request",
                            href="/waitlist/status?token=" + WaitlistConfirmState.status_token,
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    rx.cond(
                        WaitlistConfirmState.valid,
                        rx.vstack(
                            rx.text(
                                "You are about to confirm ",
                                rx.text.strong(WaitlistConfirmState.email),
                                " for the Chat3D waitlist.",
                                size="2",
                            ),
                            rx.text(
                                "What happens next: an administrator reviews your request. If it is approved you get "
                                "a registration link by email, valid for 7 days.",
                                size="2",
                                color_scheme="gray",
                            ),
                            rx.button(
                                "Confirm my email", size="3", width="100%", on_click=WaitlistConfirmState.confirm
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        rx.vstack(
                            error_callout(WaitlistConfirmState.error),
                            rx.link("Join the waitlist again", href="/waitlist"),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                ),
            ),
        )
    )


def _row(label: str, value) -> rx.Component:
    return rx.cond(
        value != "", rx.hstack(rx.text(label, size="2", color_scheme="gray", width="9em"), rx.text(value, size="2"))
    )


def status_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Your waitlist request",
            "Where your request stands.",
            rx.cond(
                ~WaitlistStatusState.checked,
                rx.center(rx.spinner(size="3"), width="100%"),
                rx.cond(
                    WaitlistStatusState.found,
                    rx.vstack(
                        rx.badge(
                            WaitlistStatusState.label,
                            size="3",
                            color_scheme=rx.match(
                                WaitlistStatusState.status, ("approved", "green"), ("rejected", "gray"), "amber"
                            ),
                        ),
                        rx.text(WaitlistStatusState.text, size="2"),
                        _row("Email", WaitlistStatusState.email),
                        _row("Joined", WaitlistStatusState.joined),
                        _row("Confirmed", WaitlistStatusState.confirmed_at),
                        _row("Decided", WaitlistStatusState.decided_at),
                        spacing="3",
                        width="100%",
                    ),
                    rx.vstack(
                        error_callout(WaitlistStatusState.error),
                        rx.link("Join the waitlist", href="/waitlist"),
                        spacing="3",
                        width="100%",
                    ),
                ),
            ),
        )
    )

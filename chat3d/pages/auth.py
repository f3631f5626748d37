"""Sign-in and registration pages; their routes are fixed because emails and `?next=` point at them."""

from __future__ import annotations

import reflex as rx

from chat3d.components.forms import auth_card, error_callout, field, form, submit_button
from chat3d.components.layout import public_shell
from chat3d.state.auth import LoginState, RegisterState


def login_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Sign in",
            "Welcome back to Chat3D.",
            rx.cond(
                LoginState.notice != "",
                rx.callout(
                    LoginState.notice,
                    icon="user-x",
                    color_scheme="amber",
                    role="status",
                    width="100%",
                    data_testid="login-notice",
                ),
            ),
            error_callout(LoginState.error),
            form(
                rx.vstack(
                    field("Email", "email", type_="email", required=True, auto_complete="email", auto_focus=True),
                    field(
                        "Password",
                        "password",
                        type_="password",
                        required=True,
                        min_length=8,
                        auto_complete="current-password",
                    ),
                    submit_button("Sign in", size="3", width="100%", loading=LoginState.submitting),
                    spacing="4",
                    width="100%",
                ),
                id="login-form",
                on_submit=LoginState.submit,
                width="100%",
            ),
            rx.hstack(
                rx.link("Create an account", href="/register", size="2"),
                rx.spacer(),
                rx.link("Forgot password?", href="/forgot-password", size="2"),
                width="100%",
            ),
        )
    )


def register_page() -> rx.Component:
    return public_shell(
        auth_card(
            "Create your account",
            "Describe parts in plain language and get real CAD files.",
            error_callout(RegisterState.error),
            rx.cond(
                RegisterState.sent != "",
                rx.callout(
                    RegisterState.sent, icon="mail", color_scheme="green", id="register-check-mail", width="100%"
                ),
            ),
            form(
                rx.vstack(
                    rx.cond(
                        RegisterState.token_email != "",
                        field(
                            "Email",
                            "email",
                            type_="email",
                            required=True,
                            value=RegisterState.token_email,
                            read_only=True,
                        ),
                        field("Email", "email", type_="email", required=True, auto_complete="email", auto_focus=True),
                    ),
                    field("Display name", "display_name", auto_complete="name", max_length=120),
                    field(
                        "Password",
                        "password",
                        type_="password",
                        required=True,
                        min_length=8,
                        auto_complete="new-password",
                        hint="At least 8 characters, not a common password.",
                    ),
                    rx.el.input(type="hidden", name="token", value=RegisterState.registration_token),
                    submit_button("Create account", size="3", width="100%", loading=RegisterState.submitting),
                    spacing="4",
                    width="100%",
                ),
                id="register-form",
                on_submit=RegisterState.submit,
                width="100%",
                display=rx.cond(RegisterState.sent != "", "none", "block"),
            ),
            rx.text("Already have an account? ", rx.link("Sign in", href="/login"), size="2"),
        )
    )

"""Reflex pages, one module per route group; `register_pages` adds them all to the app."""

import reflex as rx

from chat3d.pages import auth, chat, home, legal, notifications
from chat3d.settings import get_settings
from chat3d.state.auth import AuthState, LoginState, RegisterState


def register_pages(app: rx.App) -> None:
    app.add_page(home.page, route="/", title="Chat3D — describe a part, get a CAD model", on_load=AuthState.load_user)
    app.add_page(auth.login_page, route="/login", title="Sign in · Chat3D", on_load=LoginState.on_load)
    app.add_page(auth.register_page, route="/register", title="Create account · Chat3D", on_load=RegisterState.on_load)
    app.add_page(legal.privacy_page, route="/privacy", title="Privacy · Chat3D")
    app.add_page(legal.terms_page, route="/terms", title="Terms · Chat3D")
    chat.register(app)
    register_waitlist_admin_pages(app)
    register_account_pages(app)
    from chat3d.pages import share

    share.register(app)  # /share/[token]: public, read-only
    notifications.register(app)
    if get_settings().chat3d_env == "development":
        from chat3d.pages import mailbox

        app.add_page(
            mailbox.mailbox_page,
            route="/dev/mailbox",
            title="Mailbox (development) · Chat3D",
            on_load=mailbox.MailboxState.load,
        )
        from chat3d.pages import ping

        app.add_page(
            ping.ping_page, route="/dev/ping", title="Ping (development) · Chat3D"
        )  # bench/ui_bench.py baseline


def register_waitlist_admin_pages(app: rx.App) -> None:
    from chat3d.pages import admin, waitlist
    from chat3d.state.admin import AdminState
    from chat3d.state.waitlist import WaitlistConfirmState, WaitlistJoinState, WaitlistStatusState

    app.add_page(
        waitlist.join_page, route="/waitlist", title="Join the waitlist · Chat3D", on_load=WaitlistJoinState.on_load
    )
    app.add_page(
        waitlist.confirm_page,
        route="/waitlist/confirm",
        title="Confirm your email · Chat3D",
        on_load=WaitlistConfirmState.on_load,
    )
    app.add_page(
        waitlist.status_page,
        route="/waitlist/status",
        title="Waitlist status · Chat3D",
        on_load=WaitlistStatusState.on_load,
    )
    app.add_page(admin.admin_page, route="/admin", title="Admin console · Chat3D", on_load=AdminState.on_load)


def register_account_pages(app: rx.App) -> None:
    """/profile and the account-action pages (mail links land on these; a GET never changes anything)."""
    from chat3d.pages import account_actions, profile
    from chat3d.state.account_actions import ActionConfirmState, EmailFormState, ResetPasswordState
    from chat3d.state.profile import ProfileState

    app.add_page(profile.profile_page, route="/profile", title="Your account · Chat3D", on_load=ProfileState.on_load)
    app.add_page(
        account_actions.confirm_page,
        route="/profile/actions/confirm",
        title="Confirm · Chat3D",
        on_load=ActionConfirmState.on_load,
    )
    app.add_page(
        account_actions.reset_password_page,
        route="/reset-password",
        title="New password · Chat3D",
        on_load=ResetPasswordState.on_load,
    )
    app.add_page(
        account_actions.forgot_password_page,
        route="/forgot-password",
        title="Forgot password · Chat3D",
        on_load=EmailFormState.on_load,
    )
    app.add_page(
        account_actions.reactivate_page,
        route="/reactivate",
        title="Reactivate your account · Chat3D",
        on_load=EmailFormState.on_load,
    )

"""/profile: who you are, how you sign in, your sessions, your invitations, your data and your account."""

from __future__ import annotations

import reflex as rx

from chat3d.components.forms import field, form, submit_button
from chat3d.components.invitations import invitation_manager
from chat3d.components.layout import app_shell
from chat3d.state.profile import ProfileState as S


def _section(
    title: str, description: str, *children: rx.Component, danger: bool = False, id_: str = ""
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4", color_scheme="red" if danger else None),
            rx.text(description, size="2", color_scheme="gray"),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
        id=id_ or None,
        style={"borderColor": "var(--red-a7)"} if danger else {},
    )


def _notice(text) -> rx.Component:
    return rx.cond(
        text != "", rx.callout(text, icon="mail-check", color_scheme="green", role="status", width="100%", size="1")
    )


def _error(text) -> rx.Component:
    return rx.cond(
        text != "", rx.callout(text, icon="triangle_alert", color_scheme="red", role="alert", width="100%", size="1")
    )


def _about() -> rx.Component:
    return _section(
        "Profile",
        "How you appear in Chat3D.",
        form(
            rx.hstack(
                rx.box(
                    field(
                        "Display name",
                        "display_name",
                        value=S.name_input,
                        on_change=S.set_name_input,
                        max_length=120,
                        auto_complete="name",
                    ),
                    flex="1",
                ),
                submit_button("Save", size="3", variant="soft"),
                align="end",
                width="100%",
            ),
            on_submit=S.save_name,
            reset_on_submit=False,
            width="100%",
        ),
        rx.cond(S.name_notice != "", rx.text(S.name_notice, size="1", color_scheme="gray", role="status")),
        rx.text("Email: ", rx.text.strong(S.email), size="2"),
        rx.el.label(
            rx.hstack(
                rx.switch(checked=S.marketing, on_change=S.set_marketing, id="marketing-consent"),
                rx.text("Send me occasional news about Chat3D", size="2"),
                spacing="2",
                align="center",
            ),
            html_for="marketing-consent",
        ),
    )


def _pending() -> rx.Component:
    return rx.cond(
        S.pending.length() > 0,
        rx.callout(
            rx.vstack(
                rx.text("Waiting for your confirmation by email:", weight="medium"),
                rx.foreach(
                    S.pending, lambda p: rx.text("• ", p["label"], " — link valid until ", p["expires"], size="2")
                ),
                spacing="1",
            ),
            icon="mail",
            color_scheme="blue",
            width="100%",
        ),
    )


def _password() -> rx.Component:
    return _section(
        "Password",
        "We email you a link; the new password applies when you confirm it, and your other sessions are signed out.",
        _notice(S.password_notice),
        _error(S.password_error),
        form(
            rx.vstack(
                field(
                    "Current password",
                    "current_password",
                    type_="password",
                    required=True,
                    auto_complete="current-password",
                    id_="pw-current",
                ),
                field(
                    "New password",
                    "new_password",
                    type_="password",
                    required=True,
                    min_length=8,
                    auto_complete="new-password",
                    id_="pw-new",
                    hint="At least 8 characters, not a common password.",
                ),
                submit_button("Change password", loading=S.busy == "password"),
                spacing="3",
                width="100%",
                align="start",
            ),
            id="password-form",
            on_submit=S.request_password,
            reset_on_submit=False,
            width="100%",
        ),
    )


def _email() -> rx.Component:
    return _section(
        "Email address",
        "We send a confirmation link to the new address and a notice to the current one.",
        _notice(S.email_notice),
        _error(S.email_error),
        form(
            rx.vstack(
                field(
                    "New email address",
                    "new_email",
                    type_="email",
                    required=True,
                    auto_complete="email",
                    id_="email-new",
                ),
                field(
                    "Current password",
                    "email_password",
                    type_="password",
                    required=True,
                    auto_complete="current-password",
                    id_="email-password",
                ),
                submit_button("Change email", loading=S.busy == "email"),
                spacing="3",
                width="100%",
                align="start",
            ),
            id="email-form",
            on_submit=S.request_email,
            reset_on_submit=False,
            width="100%",
        ),
    )


def _session_row(item) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.text(item["device"], size="2"),
                rx.cond(item["current"] == "1", rx.badge("This browser", color_scheme="green", variant="soft")),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(rx.text(item["ip"], size="1", color_scheme="gray")),
        rx.table.cell(rx.text(item["seen"], size="1", color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                item["current"] == "1",
                rx.fragment(),
                rx.button(
                    "Sign out",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    white_space="nowrap",
                    on_click=S.revoke_session(item["id"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
            )
        ),
        align="center",
    )


def _sessions() -> rx.Component:
    return _section(
        "Active sessions",
        "Everywhere you are signed in. Sign out a device you do not recognise, then change your password.",
        rx.cond(S.sessions_notice != "", rx.text(S.sessions_notice, size="2", role="status")),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Device"),
                    rx.table.column_header_cell("IP"),
                    rx.table.column_header_cell("Last active"),
                    rx.table.column_header_cell(""),
                )
            ),
            rx.table.body(rx.foreach(S.sessions, _session_row)),
            size="1",
            width="100%",
        ),
        rx.hstack(
            rx.button("Sign out other sessions", variant="soft", on_click=S.revoke_others),
            rx.button("Sign out everywhere", variant="soft", color_scheme="red", on_click=S.sign_out_everywhere),
            spacing="3",
            wrap="wrap",
        ),
    )


def _share_link(item) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(item["chat"], href=item["chat_url"], size="2", weight="medium", overflow_wrap="anywhere"),
            rx.text(item["label"], size="1", overflow_wrap="anywhere"),
            rx.text(
                rx.cond(item["expiry"] != "", item["expiry"] + " · ", ""), item["views"], size="1", color_scheme="gray"
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.badge(
            item["status"],
            size="1",
            color_scheme=rx.match(item["status"], ("active", "green"), ("expired", "amber"), "gray"),
        ),
        rx.cond(
            item["active"] == "1",
            rx.button(
                "Revoke",
                size="1",
                variant="soft",
                color_scheme="red",
                aria_label="Revoke link " + item["chat"] + " " + item["label"],
                on_click=S.revoke_share(item["id"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
            ),
        ),
        width="100%",
        align="center",
        spacing="2",
        padding_y="0.4em",
        border_bottom="1px solid var(--gray-a4)",
        data_testid="profile-share-row",
    )


def _share_links() -> rx.Component:
    return _section(
        "Share links",
        "Every read-only link you made to a version, in all your chats. A link is shown only once when it is "
        "made; here you see where it points, when it expires and how often it was opened, and can revoke it.",
        rx.cond(S.shares_notice != "", rx.text(S.shares_notice, size="2", role="status")),
        rx.cond(
            S.share_links.length() == 0, rx.text("You have not shared anything yet.", size="2", color_scheme="gray")
        ),
        rx.vstack(rx.foreach(S.share_links, _share_link), spacing="0", width="100%"),
        id_="share-links",
    )


def _export() -> rx.Component:
    return _section(
        "Your data",
        "Download a ZIP with your profile, every chat with all its messages, every model file and its source, "
        "and your uploads. We email you a confirmation link first, then the download link (valid 7 days).",
        _notice(S.export_notice),
        _error(S.export_error),
        rx.button(
            rx.icon("archive", size=16),
            "Export my data",
            variant="soft",
            on_click=S.request_export,
            loading=S.busy == "export",
            width="fit-content",
        ),
    )


def _delete() -> rx.Component:
    return _section(
        "Delete account",
        "Your account is deactivated when you confirm the emailed link and deleted for good 30 days later, with "
        "every chat, model and upload. Until then you can reactivate it.",
        _notice(S.delete_notice),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button("Delete my account…", color_scheme="red", variant="soft", width="fit-content")
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Delete your account?"),
                rx.alert_dialog.description(
                    "We email you a link to confirm. Once confirmed you are signed out everywhere; after 30 days your "
                    "chats, models and uploads are gone for good.",
                    size="2",
                ),
                form(
                    rx.vstack(
                        _error(S.delete_error),
                        field(
                            "Current password",
                            "delete_password",
                            type_="password",
                            required=True,
                            auto_complete="current-password",
                            id_="delete-password",
                        ),
                        rx.hstack(
                            rx.alert_dialog.cancel(
                                rx.button("Keep my account", variant="soft", color_scheme="gray", type="button")
                            ),
                            submit_button(
                                "Email me the confirmation link", color_scheme="red", loading=S.busy == "delete"
                            ),
                            spacing="3",
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                        width="100%",
                        margin_top="1em",
                    ),
                    id="delete-form",
                    on_submit=S.request_delete,
                    reset_on_submit=False,
                    width="100%",
                ),
                max_width="28em",
            ),
            open=S.delete_open,
            on_open_change=S.set_delete_open,
        ),
        danger=True,
    )


def profile_page() -> rx.Component:
    return app_shell(
        rx.cond(
            S.loaded,
            rx.vstack(
                rx.heading("Your account", size="7"),
                _pending(),
                rx.grid(
                    rx.vstack(_about(), _password(), _email(), spacing="4", width="100%"),
                    rx.vstack(
                        _sessions(),
                        _share_links(),
                        invitation_manager(),
                        _export(),
                        _delete(),
                        spacing="4",
                        width="100%",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                spacing="4",
                width="100%",
                max_width="72em",
                margin_x="auto",
                padding="1.5em",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        )
    )

"""/notifications: the notification center (newest first, "Load more", unread emphasis, mark read)."""

from __future__ import annotations

import reflex as rx

from chat3d.components.layout import app_shell
from chat3d.components.notifications import center_row
from chat3d.state.notifications import NotificationCenterState, NotificationState


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("bell-off", size=30, color="var(--gray-9)"),
            rx.text("You're all caught up", size="3", weight="medium"),
            rx.text(
                "Notifications about your account, your chats and (for admins) the waitlist appear here.",
                size="2",
                color_scheme="gray",
                text_align="center",
            ),
            align="center",
            spacing="2",
        ),
        padding="3em 1.5em",
        width="100%",
        border="1px dashed var(--gray-a6)",
        border_radius="var(--radius-3)",
        data_testid="notifications-empty",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.box(
            rx.foreach(NotificationCenterState.items, center_row),
            width="100%",
            border="1px solid var(--gray-a5)",
            border_radius="var(--radius-3)",
            overflow="hidden",
            role="list",
            aria_label="Notifications",
        ),
        rx.hstack(
            rx.text(
                "Showing ",
                NotificationCenterState.items.length(),
                " of ",
                NotificationCenterState.total,
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.cond(
                NotificationCenterState.has_more,
                rx.button("Load more", variant="soft", on_click=NotificationCenterState.load_more),
            ),
            width="100%",
            align="center",
        ),
        spacing="3",
        width="100%",
    )


def notifications_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading("Notifications", size="6"),
                    rx.text(
                        rx.cond(
                            NotificationState.unread > 0, NotificationState.unread.to(str) + " unread", "Nothing unread"
                        ),
                        size="2",
                        color_scheme="gray",
                        data_testid="notifications-unread",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("check-check", size=14),
                    "Mark all read",
                    variant="soft",
                    on_click=NotificationCenterState.mark_all_read,
                    disabled=NotificationState.unread == 0,
                ),
                width="100%",
                align="end",
            ),
            rx.cond(
                NotificationCenterState.loaded,
                rx.cond(NotificationCenterState.is_empty, _empty(), _list()),
                rx.center(rx.spinner(size="3"), padding="3em", width="100%"),
            ),
            spacing="4",
            padding="1.5em 1.25em",
            max_width="48em",
            margin_x="auto",
            width="100%",
        )
    )


def register(app: rx.App) -> None:
    from chat3d.state.auth import AuthState

    app.add_page(
        notifications_page,
        route="/notifications",
        title="Notifications · Chat3D",
        on_load=[AuthState.require_login, NotificationCenterState.on_load],
    )

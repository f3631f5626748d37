"""Notification pieces: the bell in the top bar (badge + popover with the latest few) and the list rows the
notification center uses. State: chat3d/state/notifications.py."""

from __future__ import annotations

import reflex as rx

from chat3d.state.notifications import NotificationCenterState, NotificationState


def _unread_dot(unread) -> rx.Component:
    return rx.box(
        width="8px",
        height="8px",
        border_radius="50%",
        flex_shrink="0",
        margin_top="0.45em",
        background=rx.cond(unread, "var(--accent-9)", "transparent"),
        aria_hidden="true",
    )


def _bell_item(item) -> rx.Component:
    return rx.el.button(
        rx.hstack(
            _unread_dot(item.unread),
            rx.vstack(
                rx.text(item.title, size="2", weight=rx.cond(item.unread, "bold", "regular")),
                rx.cond(
                    item.body != "",
                    rx.text(item.body, size="1", color_scheme="gray", style={"overflowWrap": "anywhere"}),
                ),
                rx.text(item.when, size="1", color_scheme="gray", title=item.when_iso),
                spacing="1",
                align="start",
                min_width="0",
            ),
            spacing="2",
            align="start",
            width="100%",
        ),
        on_click=NotificationState.open_item(item.id, item.link),  # type: ignore[operator]  # an @rx.event handler called with arguments
        aria_label=rx.cond(item.unread, "Unread: ", "") + item.title.to(str),
        class_name="c3d-bell-item",
        style={
            "all": "unset",
            "boxSizing": "border-box",
            "display": "block",
            "width": "100%",
            "padding": "0.6em 0.75em",
            "borderRadius": "var(--radius-2)",
            "cursor": "pointer",
            "textAlign": "left",
            "background": rx.cond(item.unread, "var(--accent-a2)", "transparent"),
            "&:hover": {"background": "var(--gray-a3)"},
            "&:focus-visible": {"outline": "2px solid var(--accent-8)", "outlineOffset": "-2px"},
        },
    )


def _badge() -> rx.Component:
    return rx.cond(
        NotificationState.unread > 0,
        rx.box(
            NotificationState.badge,
            position="absolute",
            top="-4px",
            right="-6px",
            min_width="18px",
            height="18px",
            padding="0 5px",
            border_radius="9px",
            background="var(--red-9)",
            color="white",
            font_size="11px",
            font_weight="700",
            line_height="18px",
            text_align="center",
            pointer_events="none",
            aria_hidden="true",
            data_testid="bell-badge",
        ),
    )


def notification_bell() -> rx.Component:
    """The top bar's bell: unread badge, popover with the latest few, link to the center."""
    return rx.box(
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(
                    rx.icon("bell", size=18),
                    _badge(),
                    variant="ghost",
                    color_scheme="gray",
                    size="2",
                    position="relative",
                    aria_label=NotificationState.label,
                    title=NotificationState.label,
                    data_testid="notification-bell",
                )
            ),
            rx.popover.content(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Notifications", size="3"),
                        rx.spacer(),
                        rx.button(
                            "Mark all read",
                            size="1",
                            variant="ghost",
                            on_click=NotificationState.mark_all_read,
                            disabled=NotificationState.unread == 0,
                        ),
                        width="100%",
                        align="center",
                        padding="0.25em 0.25em 0.5em 0.5em",
                    ),
                    rx.cond(
                        NotificationState.recent.length() == 0,
                        rx.center(
                            rx.vstack(
                                rx.icon("bell-off", size=22, color="var(--gray-9)"),
                                rx.text("No notifications yet.", size="2", color_scheme="gray"),
                                align="center",
                                spacing="2",
                            ),
                            padding="1.5em",
                            width="100%",
                        ),
                        rx.vstack(
                            rx.foreach(NotificationState.recent, _bell_item),
                            spacing="1",
                            width="100%",
                            max_height="22em",
                            overflow_y="auto",
                        ),
                    ),
                    rx.separator(size="4"),
                    rx.link("View all notifications", href="/notifications", size="2", padding="0.25em 0.5em"),
                    spacing="1",
                    width="100%",
                ),
                width="22em",
                max_width="calc(100vw - 1.5em)",
                padding="0.5em",
                align="end",
                aria_label="Latest notifications",
            ),
            on_open_change=NotificationState.popover_changed,
        ),
        on_mount=NotificationState.refresh,
        display="inline-flex",
    )


def center_row(item) -> rx.Component:
    """One row of the notification center; unread rows carry an accent bar, a dot and bold text."""
    return rx.box(
        rx.hstack(
            _unread_dot(item.unread),
            rx.vstack(
                rx.hstack(
                    rx.text(item.title, size="3", weight=rx.cond(item.unread, "bold", "medium")),
                    rx.cond(item.unread, rx.badge("New", size="1", variant="soft")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    item.body != "",
                    rx.text(item.body, size="2", color_scheme="gray", style={"overflowWrap": "anywhere"}),
                ),
                rx.text(item.when, size="1", color_scheme="gray", title=item.when_iso),
                spacing="1",
                align="start",
                min_width="0",
                flex="1",
            ),
            rx.hstack(
                rx.cond(
                    item.link != "",
                    rx.button(
                        "Open",
                        size="1",
                        variant="soft",
                        on_click=NotificationCenterState.open_item(item.id, item.link),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                rx.cond(
                    item.unread,
                    rx.button(
                        "Mark read",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=NotificationCenterState.mark_read(item.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                spacing="2",
                flex_shrink="0",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        padding="0.85em 1em",
        border_left=rx.cond(item.unread, "3px solid var(--accent-9)", "3px solid transparent"),
        background=rx.cond(item.unread, "var(--accent-a2)", "transparent"),
        border_bottom="1px solid var(--gray-a4)",
        style={"&:last-child": {"borderBottom": "none"}},
        width="100%",
        role="listitem",
        data_testid="notification-row",
        data_unread=rx.cond(item.unread, "true", "false"),
    )

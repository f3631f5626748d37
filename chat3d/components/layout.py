"""Page frames: the public shell (signed-out pages) with the top bar and footer."""

import reflex as rx


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("box", size=22), rx.heading("Chat3D", size="5"), spacing="2", align="center"),
        href="/",
        underline="none",
        color="inherit",
    )


def public_shell(*children: rx.Component) -> rx.Component:
    return rx.box(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.color_mode.button(aria_label="Toggle light and dark theme"),
            padding="0.75em 1.25em",
            border_bottom="1px solid var(--gray-a5)",
            align="center",
            width="100%",
        ),
        rx.box(*children, as_="main", width="100%"),
        rx.hstack(
            rx.text("Chat3D", size="1", color_scheme="gray"),
            rx.link("Privacy", href="/privacy", size="1"),
            rx.link("Terms", href="/terms", size="1"),
            spacing="4",
            justify="center",
            padding="2em",
            width="100%",
        ),
        min_height="100vh",
    )


def _profile_menu() -> rx.Component:
    from chat3d.state.auth import AuthState

    return rx.menu.root(
        rx.menu.trigger(
            # The name wraps rather than being cut off: a long one takes a line of its own on a phone.
            rx.button(
                rx.icon("circle_user", size=18, flex_shrink="0"),
                rx.text(
                    AuthState.user_label, size="2", white_space="normal", overflow_wrap="anywhere", text_align="left"
                ),
                variant="ghost",
                aria_label="Account menu",
                height="auto",
                min_height="var(--space-6)",
                max_width="100%",
                data_testid="account-menu",
            )
        ),
        rx.menu.content(
            rx.text(AuthState.user_email, size="1", color_scheme="gray", padding="0.25em 0.75em"),
            rx.menu.item("Profile", on_select=rx.redirect("/profile")),
            rx.cond(AuthState.is_admin, rx.menu.item("Admin console", on_select=rx.redirect("/admin"))),
            rx.menu.separator(),
            rx.menu.item("Sign out", on_select=AuthState.sign_out, color_scheme="red"),
        ),
    )


def app_shell(*children: rx.Component, fill: bool = False) -> rx.Component:
    """The frame every signed-in page shares; renders a spinner until the user is known.

    Once signed in it mounts the tab's one event stream (`live_events`: chat, bell, admin console and the
    account's own status all follow it) and the notification bell. Pages never open their own stream.

    The top bar wraps on a narrow screen instead of running off it (never cutting the user's name).
    `fill=True` (the chat workspace) makes the page exactly the screen's height: the top bar takes what it
    needs and the page below gets the rest, so nothing scrolls the page itself and the bar never scrolls away.
    """
    from chat3d.components.event_stream import live_events
    from chat3d.components.notifications import notification_bell
    from chat3d.state.auth import AuthState

    return rx.box(
        rx.cond(AuthState.is_signed_in, live_events()),
        rx.hstack(
            brand(),
            rx.link("Chats", href="/chat", size="2", margin_left=["0.25em", "0.25em", "1.5em"]),
            rx.spacer(),
            rx.cond(AuthState.is_admin, rx.link(rx.button("Admin", variant="soft", size="2"), href="/admin")),
            rx.color_mode.button(aria_label="Toggle light and dark theme"),
            rx.cond(AuthState.is_signed_in, notification_bell()),
            _profile_menu(),
            padding=["0.5em 0.75em", "0.5em 0.75em", "0.6em 1.25em"],
            border_bottom="1px solid var(--gray-a5)",
            align="center",
            spacing=rx.breakpoints(initial="2", sm="3"),
            wrap="wrap",
            width="100%",
            flex_shrink="0",
            data_testid="top-bar",
        ),
        rx.cond(
            AuthState.is_signed_in,
            rx.box(
                *children,
                as_="main",
                width="100%",
                **({"flex": "1", "min_height": "0", "display": "flex", "flex_direction": "column"} if fill else {}),
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        **(
            {"height": "100dvh", "display": "flex", "flex_direction": "column", "overflow": "hidden"}
            if fill
            else {"min_height": "100vh"}
        ),
    )

"""`invitation_manager()`: invite people by email and follow their invitations (embedded in /profile)."""

from __future__ import annotations

import reflex as rx

from chat3d.components.forms import error_callout, form, submit_button
from chat3d.state.invitations import InvitationState


def _row(item) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(item["email"], size="2")),
        rx.table.cell(
            rx.badge(
                item["label"],
                variant="soft",
                color_scheme=rx.match(
                    item["status"],
                    ("accepted", "green"),
                    ("registration_sent", "blue"),
                    ("waitlisted", "amber"),
                    "gray",
                ),
            )
        ),
        rx.table.cell(rx.text(item["sent"], size="1", color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                item["live"] == "1",
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=InvitationState.revoke(item["id"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
            )
        ),
        align="center",
    )


def invitation_manager() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Invitations", size="4"),
                rx.spacer(),
                rx.badge(InvitationState.quota_text, size="2", variant="surface"),
                width="100%",
                align="center",
            ),
            rx.cond(
                InvitationState.enabled,
                rx.text(
                    rx.cond(
                        InvitationState.waitlist_required,
                        "Invitees confirm their email and join the waitlist; an admin approves them.",
                        "Invitees get a registration link by email, valid for 7 days.",
                    ),
                    size="2",
                    color_scheme="gray",
                ),
                rx.callout("Invitations are turned off at the moment.", icon="info", width="100%"),
            ),
            error_callout(InvitationState.error),
            rx.cond(
                InvitationState.notice != "",
                rx.callout(
                    InvitationState.notice, icon="circle-check", color_scheme="green", role="status", width="100%"
                ),
            ),
            rx.cond(
                InvitationState.enabled,
                form(
                    rx.vstack(
                        rx.el.label(
                            "Email addresses (one or more, separated by commas or new lines)",
                            html_for="invite-emails",
                            style={"fontWeight": 500, "fontSize": "var(--font-size-2)"},
                        ),
                        rx.text_area(
                            id="invite-emails",
                            name="emails",
                            value=InvitationState.emails,
                            on_change=InvitationState.set_emails,
                            placeholder="friend@example.com, colleague@example.com",
                            rows="3",
                            width="100%",
                        ),
                        submit_button("Send invitations", disabled=~InvitationState.can_invite),
                        spacing="2",
                        width="100%",
                        align="start",
                    ),
                    on_submit=InvitationState.invite,
                    reset_on_submit=False,
                    width="100%",
                ),
            ),
            rx.cond(
                InvitationState.items.length() == 0,
                rx.center(
                    rx.text("You have not invited anyone yet.", size="2", color_scheme="gray"),
                    padding="1.5em",
                    width="100%",
                    border="1px dashed var(--gray-a6)",
                    border_radius="var(--radius-3)",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Email"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Sent"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(InvitationState.items, _row)),
                    size="1",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        on_mount=InvitationState.load,
        width="100%",
    )

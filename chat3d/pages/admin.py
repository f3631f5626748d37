"""/admin: the console with tabs dashboard, users, waitlist, settings, models, audit log, security events, outbox."""

from __future__ import annotations

import reflex as rx

from chat3d.components.admin_models import models_tab
from chat3d.components.forms import error_callout, form, submit_button
from chat3d.components.layout import app_shell
from chat3d.state.admin import ALL, AdminState

TAB_LABELS = (
    ("dashboard", "Dashboard"),
    ("users", "Users"),
    ("waitlist", "Waitlist"),
    ("settings", "Settings"),
    ("models", "Models"),
    ("audit", "Audit log"),
    ("security", "Security events"),
    ("outbox", "Outbox"),
)
USER_STATUSES = ("active", "deactivated", "pending_registration")
WAITLIST_STATUSES = ("pending_email_confirmation", "pending_admin_approval", "approved", "rejected")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
AUDIT_ACTIONS = (
    ("user.", "Users"),
    ("waitlist.", "Waitlist"),
    ("settings.", "Settings"),
    ("invitation.", "Invitations"),
    ("model.", "Models"),
)


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _status_badge(status) -> rx.Component:
    return rx.badge(
        status.to(str).replace("_", " "),
        color_scheme=rx.match(
            status,
            ("active", "green"),
            ("approved", "green"),
            ("sent", "green"),
            ("deactivated", "red"),
            ("rejected", "gray"),
            ("failed", "red"),
            ("pending_admin_approval", "amber"),
            ("sending", "blue"),
            "gray",
        ),
        variant="soft",
    )


def _select(items: list[tuple[str, str]], value, on_change, label: str) -> rx.Component:
    return rx.hstack(
        rx.text(label.removesuffix(" filter"), size="2", color_scheme="gray"),
        rx.select.root(
            rx.select.trigger(aria_label=label, min_width="12em"),
            rx.select.content(rx.select.item("All", value=ALL), *[rx.select.item(text, value=v) for v, text in items]),
            value=value,
            on_change=on_change,
            size="2",
        ),
        spacing="2",
        align="center",
    )


def _search(placeholder: str, label: str) -> rx.Component:
    return form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                placeholder=placeholder,
                value=AdminState.q,
                on_change=AdminState.set_q,
                aria_label=label,
                width="18em",
                name="q",
            ),
            submit_button("Search", variant="soft"),
            spacing="2",
        ),
        on_submit=AdminState.search,
        reset_on_submit=False,
        width="auto",
        flex="0 0 auto",
    )


def _empty(icon: str, text: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=28, color="var(--gray-9)"),
            rx.text(text, color_scheme="gray", size="2"),
            align="center",
            spacing="2",
        ),
        padding="3em",
        width="100%",
        border="1px dashed var(--gray-a6)",
        border_radius="var(--radius-3)",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(
            AdminState.total,
            " in total · page ",
            AdminState.page,
            " of ",
            AdminState.pages,
            size="2",
            color_scheme="gray",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=14),
            "Previous",
            variant="soft",
            size="1",
            disabled=~AdminState.has_prev,
            on_click=AdminState.prev_page,
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=14),
            variant="soft",
            size="1",
            disabled=~AdminState.has_next,
            on_click=AdminState.next_page,
        ),
        width="100%",
        align="center",
    )


def _table(headers: list[str], row_fn, empty_icon: str, empty_text: str) -> rx.Component:
    return rx.cond(
        AdminState.rows.length() == 0,
        _empty(empty_icon, empty_text),
        rx.vstack(
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                    rx.table.body(rx.foreach(AdminState.rows, row_fn)),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                width="100%",
                overflow_x="auto",
            ),
            _pager(),
            width="100%",
            spacing="3",
        ),
    )


def _small(text) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray")


# --- dashboard ---------------------------------------------------------------------------------------------


def _kpi(card) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(card["label"], size="2", color_scheme="gray"),
            rx.heading(card["value"], size="7"),
            _small(card["hint"]),
            spacing="1",
        ),
        width="100%",
    )


def _breakdown(group) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(group["title"].to(str), size="3"),
            rx.foreach(
                group["items"].to(list[dict[str, str]]),
                lambda item: rx.hstack(
                    rx.text(item["label"], size="2", text_transform="capitalize"),
                    rx.spacer(),
                    rx.text(item["value"], size="2", weight="bold"),
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def dashboard_tab() -> rx.Component:
    return rx.vstack(
        rx.grid(
            rx.foreach(AdminState.kpis, _kpi),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="3",
            width="100%",
        ),
        rx.grid(
            rx.foreach(AdminState.breakdowns, _breakdown),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="3",
            width="100%",
        ),
        rx.text(
            "Queries count every prompt run; a render is a query that produced a model file. Today is the UTC day.",
            size="1",
            color_scheme="gray",
        ),
        spacing="4",
        width="100%",
    )


# --- users -------------------------------------------------------------------------------------------------------


def _user_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row["email"], size="2", weight="medium"), _small(row["name"]), spacing="0")),
        rx.table.cell(
            rx.badge(row["role"], color_scheme=rx.cond(row["role"] == "admin", "violet", "gray"), variant="outline")
        ),
        rx.table.cell(rx.vstack(_status_badge(row["status"]), _small(row["reason"]), spacing="1")),
        rx.table.cell(_small(row["created"])),
        rx.table.cell(_small(row["last_login"])),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["status"] == "active",
                    rx.cond(
                        row["self"] == "",
                        rx.button(
                            "Deactivate",
                            size="1",
                            color_scheme="red",
                            variant="soft",
                            on_click=AdminState.open_deactivate(row["id"], row["email"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                        ),
                    ),
                    rx.button(
                        "Activate",
                        size="1",
                        color_scheme="green",
                        variant="soft",
                        on_click=AdminState.activate(row["id"], row["email"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                rx.cond(
                    row["role"] == "admin",
                    rx.button(
                        "Make user",
                        size="1",
                        variant="soft",
                        on_click=AdminState.set_role(row["id"], row["email"], "user"),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                    rx.button(
                        "Make admin",
                        size="1",
                        variant="soft",
                        on_click=AdminState.set_role(row["id"], row["email"], "admin"),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                rx.button(
                    "Reset password",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AdminState.reset_password(row["id"], row["email"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        align="center",
    )


def users_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _search("Email or name", "Search users"),
            _select(
                [(s, _label(s)) for s in USER_STATUSES],
                AdminState.status_filter,
                AdminState.set_status_filter,
                "Status filter",
            ),
            _select(
                [("admin", "Admins"), ("user", "Users")],
                AdminState.role_filter,
                AdminState.set_role_filter,
                "Role filter",
            ),
            spacing="3",
            wrap="wrap",
        ),
        _table(
            ["User", "Role", "Status", "Joined", "Last sign-in", "Actions"],
            _user_row,
            "users",
            "No users match these filters.",
        ),
        spacing="3",
        width="100%",
    )


def _deactivate_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Suspend ", AdminState.deactivate_email, "?"),
            rx.alert_dialog.description(
                "The account is signed out everywhere at once and cannot sign in until an admin activates it again. "
                "Nothing is deleted.",
                size="2",
            ),
            rx.vstack(
                rx.el.label(
                    "Reason (recorded in the audit log)",
                    html_for="deactivate-reason",
                    style={"fontWeight": 500, "fontSize": "var(--font-size-2)"},
                ),
                rx.text_area(
                    id="deactivate-reason",
                    value=AdminState.deactivate_reason,
                    on_change=AdminState.set_deactivate_reason,
                    max_length=500,
                    width="100%",
                ),
                error_callout(AdminState.error),
                spacing="2",
                margin_top="1em",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=AdminState.close_deactivate)
                ),
                rx.button(
                    "Suspend account",
                    color_scheme="red",
                    on_click=AdminState.confirm_deactivate,
                    disabled=AdminState.deactivate_reason.strip() == "",
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=AdminState.deactivate_id != "",
    )


# --- waitlist ------------------------------------------------------------------------------------------------------


def _waitlist_row(row) -> rx.Component:
    pending = row["status"] == "pending_admin_approval"
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                pending,
                rx.checkbox(
                    checked=AdminState.selected.contains(row["id"]),
                    on_change=lambda on: AdminState.toggle_selected(row["id"], on),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label="Select " + row["email"].to(str),
                ),
            )
        ),
        rx.table.cell(rx.text(row["email"], size="2", weight="medium")),
        rx.table.cell(_status_badge(row["status"])),
        rx.table.cell(_small(row["invited_by"])),
        rx.table.cell(_small(row["joined"])),
        rx.table.cell(_small(row["confirmed"])),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    pending,
                    rx.button(
                        "Approve",
                        size="1",
                        color_scheme="green",
                        on_click=AdminState.approve(row["id"], row["email"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                rx.cond(
                    pending | (row["status"] == "pending_email_confirmation"),
                    rx.button(
                        "Reject",
                        size="1",
                        color_scheme="gray",
                        variant="soft",
                        on_click=AdminState.reject(row["id"], row["email"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                ),
                spacing="2",
            )
        ),
        align="center",
    )


def waitlist_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _search("Email", "Search the waitlist"),
            _select(
                [(s, _label(s)) for s in WAITLIST_STATUSES],
                AdminState.status_filter,
                AdminState.set_status_filter,
                "Status filter",
            ),
            rx.spacer(),
            rx.checkbox("Select all waiting", on_change=AdminState.select_all_pending, size="2"),
            rx.button(
                rx.icon("check-check", size=14),
                "Approve selected (",
                AdminState.selected_count,
                ")",
                disabled=AdminState.selected_count == 0,
                on_click=AdminState.bulk_approve,
                color_scheme="green",
            ),
            spacing="3",
            wrap="wrap",
            width="100%",
            align="center",
        ),
        _table(
            ["", "Email", "Status", "Invited by", "Joined", "Confirmed", "Decision"],
            _waitlist_row,
            "list-checks",
            "Nobody is on the waitlist with these filters.",
        ),
        spacing="3",
        width="100%",
    )


# --- settings ------------------------------------------------------------------------------------------------------


def _switch(label: str, hint: str, checked, on_change, id_: str) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.el.label(label, html_for=id_, style={"fontWeight": 500}), _small(hint), spacing="0"),
        rx.spacer(),
        rx.switch(id=id_, checked=checked, on_change=on_change),
        width="100%",
        align="center",
    )


def settings_tab() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.cond(
                AdminState.s_changed_elsewhere != "",
                rx.callout(AdminState.s_changed_elsewhere, icon="refresh-cw", color_scheme="blue", width="100%"),
            ),
            _switch(
                "Waitlist mode",
                "Registration only with a link from the waitlist or an invitation.",
                AdminState.s_waitlist_enabled,
                AdminState.set_s_waitlist_enabled,
                "setting-waitlist",
            ),
            rx.separator(),
            _switch(
                "Invitations",
                "Users may invite people by email.",
                AdminState.s_invitations_enabled,
                AdminState.set_s_invitations_enabled,
                "setting-invitations",
            ),
            _switch(
                "Invitees go through the waitlist",
                "An invitee confirms their email and waits for approval instead of getting a registration link.",
                AdminState.s_invitation_waitlist_required,
                AdminState.set_s_invitation_waitlist_required,
                "setting-invite-waitlist",
            ),
            rx.hstack(
                rx.vstack(
                    rx.el.label("Invitations per user", html_for="setting-quota", style={"fontWeight": 500}),
                    _small("Invitation mails a user may send in any 30 days (admins are not limited)."),
                    spacing="0",
                ),
                rx.spacer(),
                rx.input(
                    id="setting-quota",
                    type="number",
                    min=0,
                    step=1,
                    value=AdminState.s_quota,
                    on_change=AdminState.set_s_quota,
                    width="7em",
                ),
                width="100%",
                align="center",
            ),
            rx.separator(),
            rx.hstack(
                _small(AdminState.s_updated),
                rx.spacer(),
                rx.button("Save settings", on_click=AdminState.save_settings),
                width="100%",
                align="center",
            ),
            spacing="4",
            width="100%",
        ),
        max_width="44em",
        width="100%",
    )


# --- audit, security, outbox --------------------------------------------------------------------------------------


def _audit_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_small(row["at"])),
        rx.table.cell(rx.text(row["actor"], size="2")),
        rx.table.cell(rx.code(row["action"], size="1")),
        rx.table.cell(_small(row["target"])),
        rx.table.cell(rx.text(row["details"], size="1", font_family="monospace", word_break="break-all")),
        rx.table.cell(_small(row["ip"])),
    )


def audit_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _search("Admin email", "Search by admin"),
            _select(list(AUDIT_ACTIONS), AdminState.action_filter, AdminState.set_action_filter, "Action filter"),
            spacing="3",
            wrap="wrap",
        ),
        _table(
            ["When", "Admin", "Action", "Target", "Details", "IP"],
            _audit_row,
            "scroll-text",
            "No admin actions recorded yet.",
        ),
        spacing="3",
        width="100%",
    )


def _security_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_small(row["at"])),
        rx.table.cell(rx.code(row["type"], size="1")),
        rx.table.cell(rx.text(row["email"], size="2")),
        rx.table.cell(_small(row["ip"])),
        rx.table.cell(rx.text(row["details"], size="1", font_family="monospace", word_break="break-all")),
    )


def security_tab() -> rx.Component:
    return rx.vstack(
        _search("Event type, e.g. login.failed", "Filter by event type"),
        _table(["When", "Type", "Email", "IP", "Details"], _security_row, "shield-check", "No security events."),
        spacing="3",
        width="100%",
    )


def _outbox_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_small(row["at"])),
        rx.table.cell(rx.text(row["to"], size="2")),
        rx.table.cell(rx.text(row["subject"], size="2")),
        rx.table.cell(_status_badge(row["status"])),
        rx.table.cell(_small(row["attempts"])),
        rx.table.cell(rx.text(row["error"], size="1", color_scheme="red")),
    )


def outbox_tab() -> rx.Component:
    return rx.vstack(
        _select(
            [(s, _label(s)) for s in OUTBOX_STATUSES],
            AdminState.status_filter,
            AdminState.set_status_filter,
            "Status filter",
        ),
        _table(
            ["Queued", "To", "Subject", "Status", "Attempts", "Last error"],
            _outbox_row,
            "mail",
            "No mail in the outbox.",
        ),
        spacing="3",
        width="100%",
    )


def admin_page() -> rx.Component:
    contents = {
        "dashboard": dashboard_tab,
        "users": users_tab,
        "waitlist": waitlist_tab,
        "settings": settings_tab,
        "models": models_tab,
        "audit": audit_tab,
        "security": security_tab,
        "outbox": outbox_tab,
    }
    return app_shell(
        rx.vstack(
            rx.heading("Admin console", size="6"),
            rx.cond(
                AdminState.notice != "",
                rx.callout(AdminState.notice, icon="circle-check", color_scheme="green", role="status", width="100%"),
            ),
            rx.cond(AdminState.deactivate_id == "", error_callout(AdminState.error)),
            rx.tabs.root(
                rx.tabs.list(*[rx.tabs.trigger(label, value=value) for value, label in TAB_LABELS], wrap="wrap"),
                *[
                    rx.tabs.content(rx.box(contents[value](), padding_top="1.25em"), value=value)
                    for value, _ in TAB_LABELS
                ],
                value=AdminState.tab,
                on_change=AdminState.set_tab,
                width="100%",
            ),
            _deactivate_dialog(),
            spacing="4",
            padding="1.5em 1.25em",
            max_width="80em",
            margin_x="auto",
            width="100%",
        )
    )

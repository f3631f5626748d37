"""The Versions tab: thumbnails (the render service's isometric PNG), compare, restore, fork, and the share
dialog (title, expiry, the new link once, the chat's links with their expiry and revoke)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from chat3d.components.forms import form
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_workbench import WorkbenchState
from chat3d.state.versions import EXPIRY_CHOICES, CompareRow, ShareRow, VersionRow, VersionsState


def _thumb(url) -> rx.Component:
    return rx.cond(
        url != "",
        rx.image(
            src=url,
            alt="",
            width="64px",
            height="64px",
            object_fit="contain",
            background="white",
            border="1px solid var(--gray-a5)",
            border_radius="var(--radius-2)",
            loading="lazy",
            flex_shrink="0",
        ),
        rx.center(
            rx.icon("box", size=20, color="var(--gray-8)"),
            width="64px",
            height="64px",
            flex_shrink="0",
            border="1px solid var(--gray-a5)",
            border_radius="var(--radius-2)",
        ),
    )


def _row(v: ObjectVar[VersionRow]) -> rx.Component:
    shown = WorkbenchState.item_id == v.item_id
    return rx.hstack(
        _thumb(v.thumb_url),
        rx.vstack(
            rx.hstack(
                rx.text(v.title, size="2", weight="bold"),
                rx.cond(v.current, rx.badge("Current", color_scheme="green", size="1")),
                rx.cond(shown, rx.badge("Shown", variant="outline", size="1")),
                spacing="2",
                align="center",
            ),
            rx.text(v.origin, size="1", color_scheme="gray"),
            rx.text(v.dims, size="1"),
            rx.cond(
                v.checklist != "", rx.text(v.checklist, size="1", color_scheme="gray", data_testid="version-checklist")
            ),
            rx.hstack(
                rx.button("Show", size="1", variant="soft", on_click=WorkbenchState.select_item(v.item_id)),  # type: ignore[operator]  # an @rx.event handler called with arguments
                rx.button(
                    "Build on this",
                    size="1",
                    variant="soft",
                    disabled=v.current,
                    on_click=ChatReactionsState.restore_version(v.item_id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label="Build on " + v.title.to(str),
                ),
                rx.button(
                    "Compare",
                    size="1",
                    variant="ghost",
                    on_click=ChatReactionsState.compare_versions(v.item_id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label="Compare " + v.title.to(str),
                ),
                rx.button(
                    "Fork",
                    size="1",
                    variant="ghost",
                    on_click=VersionsState.fork(v.item_id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label="Fork from " + v.title.to(str),
                ),
                rx.button(
                    "Share",
                    size="1",
                    variant="ghost",
                    on_click=VersionsState.open_share(v.item_id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label="Share " + v.title.to(str),
                ),
                spacing="1",
                wrap="wrap",
            ),
            spacing="1",
            min_width="0",
        ),
        spacing="3",
        align="start",
        width="100%",
        padding="0.5em",
        border=rx.cond(shown, "1px solid var(--accent-8)", "1px solid var(--gray-a4)"),
        border_radius="var(--radius-3)",
        data_testid="version-row",
    )


def _compare_row(r: ObjectVar[CompareRow]) -> rx.Component:
    return rx.table.row(rx.table.cell(r.label), rx.table.cell(r.a), rx.table.cell(r.b), rx.table.cell(r.delta))


def _share_row(s: ObjectVar[ShareRow]) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(
                s.label,
                size="2",
                weight="medium",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                max_width="100%",
            ),
            rx.text(
                rx.cond(s.expiry != "", s.expiry.to(str) + " · ", ""),
                s.views.to_string(),
                rx.cond(s.views == 1, " view", " views"),
                size="1",
                color_scheme="gray",
            ),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.badge(
            s.status, size="1", color_scheme=rx.match(s.status, ("active", "green"), ("expired", "amber"), "gray")
        ),
        rx.cond(
            s.active,
            rx.button(
                "Revoke",
                size="1",
                color_scheme="red",
                variant="soft",
                aria_label="Revoke link " + s.label.to(str),
                on_click=VersionsState.revoke(s.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
            ),
        ),
        width="100%",
        align="center",
        spacing="2",
        data_testid="share-row",
    )


def _share_links() -> rx.Component:
    return rx.cond(
        VersionsState.share_rows.length() > 0,
        rx.vstack(
            rx.text("Share links of this chat", size="2", weight="bold"),
            rx.foreach(VersionsState.share_rows, _share_row),
            width="100%",
            spacing="2",
            data_testid="share-links",
        ),
    )


def _share_form() -> rx.Component:
    return form(
        rx.vstack(
            rx.el.label(
                rx.text("Title", weight="medium", size="2"),
                rx.text(" (optional, shown on the shared page)", size="1", color_scheme="gray"),
                html_for="share-title",
            ),
            rx.input(
                id="share-title",
                name="title",
                max_length=200,
                placeholder="e.g. Bracket for the bike rack",
                width="100%",
            ),
            rx.text("Link expires", weight="medium", size="2", id="share-expiry-label", margin_top="0.5em"),
            rx.radio_group.root(
                rx.flex(
                    *[
                        rx.text(
                            rx.flex(rx.radio_group.item(value=choice), choice, spacing="2", align="center"),
                            as_="label",
                            size="2",
                            white_space="nowrap",
                        )
                        for choice in EXPIRY_CHOICES
                    ],
                    wrap="wrap",
                    column_gap="1em",
                    row_gap="0.5em",
                ),
                value=VersionsState.share_expiry,
                on_change=VersionsState.set_share_expiry,
                aria_labelledby="share-expiry-label",
            ),
            rx.cond(
                VersionsState.share_expiry == "On a date",
                rx.hstack(
                    rx.input(
                        type="date",
                        value=VersionsState.share_date,
                        on_change=VersionsState.set_share_date,
                        min=VersionsState.share_date_min,
                        max=VersionsState.share_date_max,
                        aria_label="Expiry date",
                    ),
                    rx.text("works until the end of that day (UTC)", size="1", color_scheme="gray"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            rx.cond(
                VersionsState.share_error != "",
                rx.callout(VersionsState.share_error, color_scheme="red", role="alert", size="1", width="100%"),
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                rx.button(rx.icon("link", size=14), "Create link", type="submit"),
                justify="end",
                spacing="2",
                width="100%",
                margin_top="0.5em",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=VersionsState.share,
        reset_on_submit=False,
        width="100%",
    )


def _share_created() -> rx.Component:
    return rx.vstack(
        rx.callout(
            "Link created. Copy it now: it is shown only once.",
            icon="circle-check",
            color_scheme="green",
            size="1",
            width="100%",
        ),
        rx.hstack(
            rx.input(
                value=VersionsState.share_url,
                read_only=True,
                flex="1",
                aria_label="Share link",
                data_testid="share-url",
            ),
            rx.icon_button(
                rx.icon("copy", size=14),
                aria_label="Copy link",
                on_click=[rx.set_clipboard(VersionsState.share_url), rx.toast.success("Link copied.")],
            ),
            width="100%",
        ),
        rx.hstack(rx.dialog.close(rx.button("Done")), justify="end", width="100%"),
        spacing="2",
        width="100%",
    )


def _share_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Share " + VersionsState.share_version),
            rx.dialog.description(
                "Anyone with the link can view and download this version, read only. The chat's name, prompts "
                "and other versions stay private.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75em",
            ),
            rx.cond(VersionsState.share_url != "", _share_created(), _share_form()),
            rx.box(_share_links(), width="100%", margin_top="1em"),
            max_width="520px",
            data_testid="share-dialog",
        ),
        open=VersionsState.share_item_id != "",
        on_open_change=VersionsState.share_open_change,
    )


def versions_panel() -> rx.Component:
    return rx.vstack(
        _share_dialog(),
        rx.cond(
            VersionsState.compare_rows.length() > 0,
            rx.box(
                rx.hstack(
                    rx.text(VersionsState.compare_title, size="2", weight="bold"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=14),
                        size="1",
                        variant="ghost",
                        aria_label="Close comparison",
                        on_click=VersionsState.close_compare,
                    ),
                    width="100%",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(""),
                            rx.table.column_header_cell("From"),
                            rx.table.column_header_cell("To"),
                            rx.table.column_header_cell("Δ"),
                        )
                    ),
                    rx.table.body(rx.foreach(VersionsState.compare_rows, _compare_row)),
                    size="1",
                    width="100%",
                ),
                width="100%",
                data_testid="version-compare",
            ),
        ),
        rx.cond(VersionsState.rows.length() == 0, rx.text("No versions yet.", size="2", color_scheme="gray")),
        rx.foreach(VersionsState.rows, _row),
        rx.box(_share_links(), width="100%", margin_top="0.5em"),
        spacing="2",
        width="100%",
        data_testid="versions-panel",
    )

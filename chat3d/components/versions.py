"""The Versions tab: thumbnails (the render service's isometric SVG), compare, restore, fork, share links."""

from __future__ import annotations

import reflex as rx

from chat3d.state.chat_workbench import WorkbenchState
from chat3d.state.versions import CompareRow, ShareRow, VersionRow, VersionsState


def _thumb(url) -> rx.Component:
    return rx.cond(
        url != "",
        rx.image(src=url, alt="", width="64px", height="64px", object_fit="contain", background="white",
                 border="1px solid var(--gray-a5)", border_radius="var(--radius-2)", loading="lazy",
                 flex_shrink="0"),
        rx.center(rx.icon("box", size=20, color="var(--gray-8)"), width="64px", height="64px", flex_shrink="0",
                  border="1px solid var(--gray-a5)", border_radius="var(--radius-2)"),
    )


def _row(v: VersionRow) -> rx.Component:
    shown = WorkbenchState.item_id == v.item_id
    return rx.hstack(
        _thumb(v.thumb_url),
        rx.vstack(
            rx.hstack(
                rx.text(v.title, size="2", weight="bold"),
                rx.cond(v.current, rx.badge("Current", color_scheme="green", size="1")),
                rx.cond(shown, rx.badge("Shown", variant="outline", size="1")),
                spacing="2", align="center",
            ),
            rx.text(v.origin, size="1", color_scheme="gray"),
            rx.text(v.dims, size="1"),
            rx.hstack(
                rx.button("Show", size="1", variant="soft", on_click=WorkbenchState.select_item(v.item_id)),
                rx.button("Build on this", size="1", variant="soft", disabled=v.current,
                          on_click=VersionsState.restore(v.item_id), aria_label="Build on " + v.title),
                rx.button("Compare", size="1", variant="ghost", on_click=VersionsState.compare(v.item_id),
                          aria_label="Compare " + v.title),
                rx.button("Fork", size="1", variant="ghost", on_click=VersionsState.fork(v.item_id),
                          aria_label="Fork from " + v.title),
                rx.button("Share", size="1", variant="ghost", on_click=VersionsState.share(v.item_id),
                          aria_label="Share " + v.title),
                spacing="1", wrap="wrap",
            ),
            spacing="1", min_width="0",
        ),
        spacing="3", align="start", width="100%", padding="0.5em",
        border=rx.cond(shown, "1px solid var(--accent-8)", "1px solid var(--gray-a4)"),
        border_radius="var(--radius-3)",
        data_testid="version-row",
    )


def _compare_row(r: CompareRow) -> rx.Component:
    return rx.table.row(rx.table.cell(r.label), rx.table.cell(r.a), rx.table.cell(r.b), rx.table.cell(r.delta))


def _share_row(s: ShareRow) -> rx.Component:
    return rx.hstack(
        rx.text(s.label, size="1"),
        rx.badge(rx.cond(s.active, "active", "revoked"), color_scheme=rx.cond(s.active, "green", "gray"), size="1"),
        rx.text(s.views.to_string() + " views", size="1", color_scheme="gray"),
        rx.spacer(),
        rx.cond(s.active, rx.button("Revoke", size="1", color_scheme="red", variant="soft",
                                    on_click=VersionsState.revoke(s.id))),
        width="100%", align="center",
    )


def versions_panel() -> rx.Component:
    return rx.vstack(
        rx.cond(
            VersionsState.share_url != "",
            rx.callout.root(
                rx.callout.text("Anyone with this link can view and download this version (read only):"),
                rx.hstack(
                    rx.input(value=VersionsState.share_url, read_only=True, size="1", flex="1",
                             aria_label="Share link", data_testid="share-url"),
                    rx.icon_button(rx.icon("copy", size=14), size="1", aria_label="Copy link",
                                   on_click=rx.set_clipboard(VersionsState.share_url)),
                    rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", aria_label="Close",
                                   on_click=VersionsState.close_share),
                    width="100%",
                ),
                size="1", width="100%",
            ),
        ),
        rx.cond(
            VersionsState.compare_rows.length() > 0,
            rx.box(
                rx.hstack(rx.text(VersionsState.compare_title, size="2", weight="bold"), rx.spacer(),
                          rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", aria_label="Close comparison",
                                         on_click=VersionsState.close_compare), width="100%"),
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell(""), rx.table.column_header_cell("From"),
                                                 rx.table.column_header_cell("To"), rx.table.column_header_cell("Δ"))),
                    rx.table.body(rx.foreach(VersionsState.compare_rows, _compare_row)),
                    size="1", width="100%",
                ),
                width="100%", data_testid="version-compare",
            ),
        ),
        rx.cond(VersionsState.rows.length() == 0, rx.text("No versions yet.", size="2", color_scheme="gray")),
        rx.foreach(VersionsState.rows, _row),
        rx.cond(
            VersionsState.share_rows.length() > 0,
            rx.vstack(rx.text("Share links", size="2", weight="bold"), rx.foreach(VersionsState.share_rows, _share_row),
                      width="100%", spacing="1", margin_top="0.5em"),
        ),
        spacing="2", width="100%", data_testid="versions-panel",
    )

"""The workbench pane: Preview (3D viewer) / Code / Files / Details of the selected answer."""

from __future__ import annotations

import reflex as rx

from chat3d.components.viewer import model_viewer
from chat3d.state.chat_view import DetailRow, FileView
from chat3d.state.chat_workbench import WorkbenchState


def _no_model(text: str) -> rx.Component:
    return rx.center(rx.vstack(rx.icon("box", size=36, color="var(--gray-8)"), rx.text(text, color_scheme="gray", size="2"),
                               align="center", spacing="2"), height="100%", min_height="240px", padding="2em")


def _preview() -> rx.Component:
    return rx.cond(
        WorkbenchState.has_model,
        rx.vstack(
            rx.box(
                model_viewer(url=WorkbenchState.glb_url, size_mm=WorkbenchState.size_mm,
                             dark=rx.color_mode_cond(False, True), key=WorkbenchState.glb_url),
                flex="1",
                min_height="280px",
                width="100%",
                position="relative",
                border="1px solid var(--gray-a5)",
                border_radius="var(--radius-3)",
                overflow="hidden",
                background="radial-gradient(circle at 50% 35%, var(--gray-2), var(--gray-4))",
            ),
            rx.hstack(
                rx.icon("ruler", size=14, color="var(--gray-10)"),
                rx.text(WorkbenchState.dims, size="2", weight="medium", data_testid="model-dims"),
                spacing="2", align="center",
            ),
            data_testid="model-viewer",
            aria_label="Model preview",
            role="region",
            spacing="2",
            height="100%",
            width="100%",
        ),
        _no_model("Your model will appear here."),
    )


def _code() -> rx.Component:
    return rx.cond(
        WorkbenchState.code != "",
        rx.box(
            rx.code_block(WorkbenchState.code, language="python", can_copy=True, show_line_numbers=True,
                          wrap_long_lines=True, custom_style={"fontSize": "12px"}),
            overflow="auto", height="100%",
        ),
        _no_model("The generated build123d program appears here."),
    )


def _file_row(f: FileView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(f.label, variant="soft")),
        rx.table.cell(rx.text(f.filename, size="2")),
        rx.table.cell(rx.text(f.size_label, size="2", color_scheme="gray")),
        rx.table.cell(
            rx.el.a(rx.hstack(rx.icon("download", size=14), rx.text("Download", size="2"), spacing="1", align="center"),
                    href=f.url, download=f.filename, aria_label="Download " + f.label,
                    # A real navigation (the router would otherwise handle the click and never download).
                    custom_attrs={"reloadDocument": True},
                    style={"color": "var(--accent-11)", "textDecoration": "none"}),
        ),
    )


def _files() -> rx.Component:
    return rx.cond(
        WorkbenchState.files.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Format"), rx.table.column_header_cell("File"),
                rx.table.column_header_cell("Size"), rx.table.column_header_cell(rx.text.span("Link")),
            )),
            rx.table.body(rx.foreach(WorkbenchState.files, _file_row)),
            size="1",
            width="100%",
        ),
        _no_model("Downloads (STL, STEP, 3MF, GLB, source) appear here."),
    )


def _detail(row: DetailRow) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(row.label), rx.data_list.value(row.value))


def _details() -> rx.Component:
    return rx.cond(
        WorkbenchState.details.length() > 0,
        rx.data_list.root(rx.foreach(WorkbenchState.details, _detail), size="1"),
        _no_model("Measurements, models used and timings appear here."),
    )


def workbench_pane() -> rx.Component:
    content = {"flex": "1", "min_height": "0", "overflow_y": "auto", "padding_top": "0.75em"}
    return rx.tabs.root(
        rx.tabs.list(
            rx.tabs.trigger("Preview", value="preview"),
            rx.tabs.trigger("Code", value="code"),
            rx.tabs.trigger("Files", value="files"),
            rx.tabs.trigger("Details", value="details"),
        ),
        rx.tabs.content(_preview(), value="preview", **content),
        rx.tabs.content(_code(), value="code", **content),
        rx.tabs.content(_files(), value="files", **content),
        rx.tabs.content(_details(), value="details", **content),
        value=WorkbenchState.tab,
        on_change=WorkbenchState.set_tab,
        display="flex",
        flex_direction="column",
        height="100%",
        width="100%",
        padding="0.75em 1em 1em",
    )

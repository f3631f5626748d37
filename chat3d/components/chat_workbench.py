"""The workbench pane: Preview (3D viewer + parameters) / Code (editable) / Versions / Files / Details."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from chat3d.components.code_editor import code_editor
from chat3d.components.forms import form
from chat3d.components.parameters import parameters_panel
from chat3d.components.parts import parts_table
from chat3d.components.versions import versions_panel
from chat3d.components.viewer import model_viewer
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_view import DetailRow, FileView
from chat3d.state.chat_workbench import WorkbenchState


def _no_model(text: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("box", size=36, color="var(--gray-8)"),
            rx.text(text, color_scheme="gray", size="2"),
            align="center",
            spacing="2",
        ),
        height="100%",
        min_height="240px",
        padding="2em",
    )


def _preview() -> rx.Component:
    shown_url = rx.cond(WorkbenchState.previewing, WorkbenchState.preview_glb_url, WorkbenchState.glb_url)
    return rx.cond(
        WorkbenchState.has_model,
        rx.vstack(
            rx.box(
                # Not keyed by the URL: the viewer stays mounted, keeps its camera and the shown part until the
                # next one has loaded; it refits for another chat (fit_key).
                model_viewer(
                    url=shown_url,
                    size_mm=rx.cond(WorkbenchState.previewing, WorkbenchState.preview_size_mm, WorkbenchState.size_mm),
                    dark=rx.color_mode_cond(False, True),
                    units=WorkbenchState.units,
                    fit_key=WorkbenchState.context_id,
                    # Picking works on stored versions only: a preview is not a version (no face table).
                    topology_url=rx.cond(WorkbenchState.previewing, "", WorkbenchState.topology_url),
                    picked_ids=WorkbenchState.picked_ids,
                    picked_version=WorkbenchState.picked_version,
                    on_pick_geometry=WorkbenchState.pick_geometry,
                    part_names=rx.cond(WorkbenchState.previewing, [], WorkbenchState.part_names),
                ),
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
                rx.text(
                    rx.cond(WorkbenchState.previewing, WorkbenchState.preview_dims, WorkbenchState.dims),
                    size="2",
                    weight="medium",
                    data_testid="model-dims",
                ),
                rx.cond(
                    WorkbenchState.previewing,
                    rx.badge("preview", color_scheme="amber", variant="soft", size="1"),
                    rx.cond(WorkbenchState.edited_by_you, rx.badge("edited by you", variant="soft", size="1")),
                ),
                spacing="2",
                align="center",
            ),
            _parts(),
            parameters_panel(),
            data_testid="model-viewer",
            aria_label="Model preview",
            role="region",
            spacing="2",
            height="100%",
            width="100%",
        ),
        _no_model("Your model will appear here."),
    )


def _parts() -> rx.Component:
    # While a parameter preview is shown, the stored version's parts would not match what the viewer shows.
    return rx.cond((WorkbenchState.parts.length() > 0) & ~WorkbenchState.previewing, parts_table(WorkbenchState.parts))


def _code() -> rx.Component:
    """The program, editable: "Render" re-renders it as a new version; an error shows here and stores nothing."""
    busy = WorkbenchState.rendering == "code"
    return rx.cond(
        WorkbenchState.code != "",
        form(
            rx.vstack(
                rx.hstack(
                    rx.button(
                        rx.cond(busy, rx.spinner(size="1"), rx.icon("play", size=14)),
                        "Render",
                        type="submit",
                        size="1",
                        disabled=WorkbenchState.rendering != "",
                    ),
                    rx.button(
                        rx.icon("undo-2", size=14),
                        "Reset",
                        type="button",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=WorkbenchState.reset_code,
                    ),
                    rx.text(
                        "Edit the build123d program and render it as a new version (no model call).",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    WorkbenchState.edit_error != "",
                    rx.callout.root(
                        rx.callout.icon(rx.icon("triangle-alert", size=16)),
                        rx.callout.text(WorkbenchState.edit_error),  # the message names the line
                        color_scheme="red",
                        size="1",
                        role="alert",
                        width="100%",
                        data_testid="code-error",
                    ),
                ),
                # CodeMirror (line numbers, Python highlighting), the error's line marked; submitted as "code".
                code_editor(
                    name="code",
                    default_value=WorkbenchState.code,
                    key=WorkbenchState.item_id + "-" + WorkbenchState.code_nonce.to_string(),
                    error_line=WorkbenchState.edit_error_line,
                    dark=rx.color_mode_cond(False, True),
                    label="Program",
                    test_id="code-editor",
                    min_height="360px",
                    width="100%",
                ),
                spacing="2",
                height="100%",
                width="100%",
            ),
            on_submit=ChatReactionsState.render_code,
            reset_on_submit=False,
            height="100%",
        ),
        _no_model("The generated build123d program appears here."),
    )


def _file_row(f: ObjectVar[FileView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(f.label, variant="soft")),
        rx.table.cell(rx.text(f.filename, size="2")),
        rx.table.cell(rx.text(f.size_label, size="2", color_scheme="gray")),
        rx.table.cell(
            rx.el.a(
                rx.hstack(rx.icon("download", size=14), rx.text("Download", size="2"), spacing="1", align="center"),
                href=f.url,
                download=f.filename,
                aria_label="Download " + f.label.to(str),
                # A real navigation (the router would otherwise handle the click and never download).
                custom_attrs={"reloadDocument": True},
                style={"color": "var(--accent-11)", "textDecoration": "none"},
            )
        ),
    )


def _files() -> rx.Component:
    return rx.cond(
        WorkbenchState.files.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Format"),
                    rx.table.column_header_cell("File"),
                    rx.table.column_header_cell("Size"),
                    rx.table.column_header_cell(rx.text.span("Link")),
                )
            ),
            rx.table.body(rx.foreach(WorkbenchState.files, _file_row)),
            size="1",
            width="100%",
        ),
        _no_model("Downloads (STL, STEP, 3MF, GLB, source) appear here."),
    )


def _detail(row: ObjectVar[DetailRow]) -> rx.Component:
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
            rx.tabs.trigger("Versions", value="versions"),
            rx.tabs.trigger("Files", value="files"),
            rx.tabs.trigger("Details", value="details"),
        ),
        rx.tabs.content(_preview(), value="preview", **content),
        rx.tabs.content(_code(), value="code", **content),
        rx.tabs.content(versions_panel(), value="versions", **content),
        rx.tabs.content(_files(), value="files", **content),
        rx.tabs.content(_details(), value="details", **content),
        value=WorkbenchState.tab,
        on_change=ChatReactionsState.set_workbench_tab,
        display="flex",
        flex_direction="column",
        height="100%",
        width="100%",
        padding="0.75em 1em 1em",
    )

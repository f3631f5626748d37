"""The "Import STEP/STL" dialog: pick or drop a CAD file; a new chat starts from it."""

from __future__ import annotations

import reflex as rx

from chat3d.state.chat_import import IMPORT_UPLOAD_ID, ImportState

CAD_TYPES = {
    "model/step": [".step", ".stp"],
    "model/stl": [".stl"],
    "application/octet-stream": [".step", ".stp", ".stl"],
}


def import_dialog() -> rx.Component:
    """A trigger button plus its dialog. The file input exists only while the dialog is open."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("file-up", size=14),
                "Import STEP/STL",
                type="button",
                size="1",
                variant="soft",
                color_scheme="gray",
                title="Start a new chat from a STEP or STL file",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Import a STEP or STL file"),
            rx.dialog.description(
                "A new chat starts from the part in your file. Then describe changes and the model edits around "
                "it. STEP (.step, .stp) or STL, up to ",
                ImportState.limit_text,
                ".",
                size="2",
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("file-up", size=22),
                    rx.text("Choose a file, or drop it here", size="2"),
                    align="center",
                    spacing="1",
                ),
                id=IMPORT_UPLOAD_ID,
                accept=CAD_TYPES,
                multiple=False,
                max_files=1,
                disabled=ImportState.busy,
                on_drop=ImportState.handle_import(rx.upload_files(upload_id=IMPORT_UPLOAD_ID)),  # type: ignore[operator]  # an @rx.event handler called with arguments
                border="1px dashed var(--gray-a8)",
                border_radius="var(--radius-3)",
                padding="1.5em",
                margin_top="1em",
                cursor="pointer",
                role="button",
                aria_label="Choose a STEP or STL file to import",
                data_testid="import-drop",
            ),
            rx.cond(
                ImportState.busy,
                rx.hstack(
                    rx.spinner(size="2"),
                    rx.text("Importing ", ImportState.filename, "…", size="2"),
                    margin_top="0.75em",
                    align="center",
                    role="status",
                ),
            ),
            rx.cond(
                ImportState.error != "",
                rx.callout(ImportState.error, color_scheme="red", role="alert", size="1", margin_top="0.75em"),
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", disabled=ImportState.busy)),
                justify="end",
                margin_top="1em",
            ),
            max_width="440px",
        ),
        open=ImportState.open,
        on_open_change=ImportState.set_open,
    )

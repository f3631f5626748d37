"""`/share/[token]`: a read-only viewer for one shared version, signed out; nothing else of the chat shows."""

from __future__ import annotations

import reflex as rx

from chat3d.components.layout import public_shell
from chat3d.components.parts import parts_table
from chat3d.components.viewer import model_viewer
from chat3d.state.chat_view import FileView
from chat3d.state.share import ShareState


def _download(f: FileView) -> rx.Component:
    return rx.el.a(
        rx.hstack(
            rx.icon("download", size=14),
            rx.text(f.label, size="2"),
            rx.text(f.size_label, size="1", color_scheme="gray"),
            spacing="1",
            align="center",
        ),
        href=f.url,
        download=f.filename,
        aria_label="Download " + f.label,
        custom_attrs={"reloadDocument": True},
        style={
            "color": "var(--accent-11)",
            "textDecoration": "none",
            "padding": "0.35em 0.6em",
            "border": "1px solid var(--gray-a6)",
            "borderRadius": "var(--radius-2)",
        },
    )


def _shared() -> rx.Component:
    return rx.vstack(
        rx.heading(ShareState.title, size="6", as_="h1", data_testid="share-title"),
        rx.hstack(
            rx.icon("ruler", size=14, color="var(--gray-10)"),
            rx.text(ShareState.dims, size="2", weight="medium", data_testid="model-dims"),
            rx.foreach(ShareState.facts, lambda t: rx.text("· " + t, size="2", color_scheme="gray")),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.cond(ShareState.checklist != "", rx.text(ShareState.checklist, size="2", data_testid="share-checklist")),
        rx.box(
            model_viewer(
                url=ShareState.glb_url,
                size_mm=ShareState.size_mm,
                dark=rx.color_mode_cond(False, True),
                part_names=ShareState.part_names,
                key=ShareState.glb_url,
            ),
            width="100%",
            height="min(62vh, 620px)",
            position="relative",
            border="1px solid var(--gray-a5)",
            border_radius="var(--radius-3)",
            overflow="hidden",
            background="radial-gradient(circle at 50% 35%, var(--gray-2), var(--gray-4))",
            data_testid="model-viewer",
        ),
        rx.hstack(rx.foreach(ShareState.files, _download), spacing="2", wrap="wrap"),
        rx.cond(ShareState.parts.length() > 0, parts_table(ShareState.parts)),
        rx.text("A read-only link shared from Chat3D.", size="1", color_scheme="gray"),
        spacing="3",
        width="100%",
    )


def share_page() -> rx.Component:
    return public_shell(
        rx.container(
            rx.cond(
                ShareState.found,
                _shared(),
                rx.cond(
                    ShareState.expired,
                    rx.vstack(
                        rx.icon("clock", size=28, color="var(--gray-9)"),
                        rx.heading("This link has expired", size="6", as_="h1"),
                        rx.text(
                            "The person who shared this model set the link to stop working after a while. "
                            "Ask them for a new link."
                        ),
                        data_testid="share-expired",
                        spacing="2",
                        padding_y="3em",
                    ),
                    rx.cond(
                        ShareState.loaded,
                        rx.vstack(
                            rx.heading("This link does not work", size="6", as_="h1"),
                            rx.text("It may have been revoked, or it was copied incompletely."),
                            data_testid="share-missing",
                            spacing="2",
                            padding_y="3em",
                        ),
                        rx.center(rx.spinner(), padding="3em"),
                    ),
                ),
            ),
            size="4",
            padding="1.5em 1em",
        )
    )


def register(app: rx.App) -> None:
    app.add_page(share_page, route="/share/[token]", title="Shared model · Chat3D", on_load=ShareState.load)

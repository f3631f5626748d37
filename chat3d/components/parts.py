"""The parts list (issue 27): a version's named parts with their size, volume and own STL/STEP/3MF downloads.

Shown under the viewer in the workbench and on the share page, for results of several solids only (a single
solid's files are the model's). Layout only: rows come from chat3d.state.chat_view.part_views.
"""

from __future__ import annotations

import reflex as rx

from chat3d.state.chat_view import PartView


def _link(url, label: str, name) -> rx.Component:
    return rx.el.a(
        label,
        href=url,
        download=True,
        aria_label="Download " + name + " " + label,
        # A real navigation (the router would otherwise handle the click and never download).
        custom_attrs={"reloadDocument": True},
        style={"color": "var(--accent-11)", "textDecoration": "none", "fontSize": "var(--font-size-1)"},
    )


def _part_row(p: PartView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(p.name, size="2", weight="medium")),
        rx.table.cell(rx.text(p.size_label, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(p.volume_label, size="1", color_scheme="gray")),
        rx.table.cell(
            rx.hstack(
                _link(p.stl_url, "STL", p.name),
                _link(p.step_url, "STEP", p.name),
                _link(p.mf_url, "3MF", p.name),
                spacing="2",
            )
        ),
        data_testid="part-row",
    )


def parts_table(rows) -> rx.Component:
    """Named parts (issue 27): each part's size, volume and own STL/STEP/3MF; shown for several solids only."""
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Part"),
                rx.table.column_header_cell("Size"),
                rx.table.column_header_cell("Volume"),
                rx.table.column_header_cell("Files"),
            )
        ),
        rx.table.body(rx.foreach(rows, _part_row)),
        size="1",
        width="100%",
        aria_label="Parts",
        data_testid="parts-table",
    )

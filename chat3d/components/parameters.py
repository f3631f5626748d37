"""The Parameters panel: one slider and number field per named parameter of the shown version's program.

A committed change (slider released, key press on the slider, Enter in the field) renders a new version
without a model call; the rendered size shows above the sliders.
"""

from __future__ import annotations

import reflex as rx

from chat3d.state.chat_workbench import ParamView, WorkbenchState


def _key(p: ParamView, suffix: str):
    return WorkbenchState.item_id + "-" + p.name + "-" + WorkbenchState.code_nonce.to_string() + suffix


def _row(p: ParamView) -> rx.Component:
    busy = WorkbenchState.rendering != ""
    return rx.hstack(
        rx.text(p.label, size="1", width="8.5em", flex_shrink="0", overflow="hidden", text_overflow="ellipsis",
                white_space="nowrap", title=p.description),
        rx.slider(
            default_value=[p.value], min=p.min, max=p.max, step=p.step,
            on_value_commit=lambda v: WorkbenchState.commit_slider(p.name, v),
            disabled=busy, size="1", flex="1", min_width="60px",
            aria_label=p.label, key=_key(p, "s"), data_param=p.name,
        ),
        rx.form(
            rx.input(name=p.name, default_value=p.text, type="number", step=p.step, size="1", width="6.5em",
                     aria_label=p.label + " value", key=_key(p, "n"), disabled=busy),
            on_submit=WorkbenchState.commit_number,
            reset_on_submit=False,
        ),
        rx.text(p.unit, size="1", color_scheme="gray", width="2.2em", flex_shrink="0"),
        spacing="2", align="center", width="100%", data_testid="param-row",
    )


def parameters_panel() -> rx.Component:
    return rx.cond(
        WorkbenchState.has_params,
        rx.box(
            rx.hstack(
                rx.text("Parameters", size="2", weight="bold"),
                rx.cond(WorkbenchState.rendering == "parameters", rx.spinner(size="1")),
                rx.spacer(),
                rx.text(WorkbenchState.dims, size="1", color_scheme="gray", data_testid="param-dims"),
                align="center", width="100%",
            ),
            rx.cond(
                (WorkbenchState.edit_error != "") & (WorkbenchState.tab == "preview"),
                rx.callout(WorkbenchState.edit_error, color_scheme="red", size="1", role="alert", margin_y="0.25em",
                           data_testid="param-error"),
            ),
            rx.vstack(rx.foreach(WorkbenchState.params, _row), spacing="1", width="100%", margin_top="0.25em"),
            rx.text("Each change renders a new version (no model call).", size="1", color_scheme="gray"),
            width="100%",
            max_height="38vh",
            overflow_y="auto",
            padding="0.5em 0.75em",
            border="1px solid var(--gray-a5)",
            border_radius="var(--radius-3)",
            data_testid="parameters-panel",
            role="region",
            aria_label="Parameters",
        ),
    )

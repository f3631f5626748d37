"""The Parameters panel: one slider and number field per named parameter of the shown version's program.

A change (a slider moving, debounced, or released; a key press on it; Enter in a number field or leaving it)
renders a preview without a model call: the viewer and the size above the sliders show it at once. "Keep as
new version" stores that render as a version; "Discard" returns to the stored one.

Each row is two lines: the name, number field and unit, then a slider across the panel's full width whose
range sits around the stored value (chat3d.state.chat_workbench.slider_window) in fine steps. The slider is
ParamSlider (assets/chat3d_param_slider.jsx), whose thumb carries the accessible name "length (mm)".
In an inch chat a millimetre parameter shows, slides and types in inches.
"""

from __future__ import annotations

from typing import Annotated

import reflex as rx
from reflex.event import passthrough_event_spec
from reflex.vars import ObjectVar

from chat3d.components.forms import form
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_workbench import ParamView, WorkbenchState

DEBOUNCE_MS = 300  # a moving slider previews once it rests this long (and again when released)
RADIX_UI = "radix-ui@1.8.1"  # the primitives Radix Themes 3.3.0 is built on (already in the app's bundle)


class ParamSlider(rx.Component):
    """Radix's slider primitive with its accessible name on the thumb (rx.slider names only its root); it
    follows `value` (a typed number, a preview) except mid-drag."""

    library = rx.asset("chat3d_param_slider.jsx").importable_path
    tag = "ParamSlider"
    lib_dependencies: list[str] = [RADIX_UI]

    label: rx.Var[str]
    value: rx.Var[float]  # followed unless a pointer is dragging the thumb
    min: rx.Var[float]
    max: rx.Var[float]
    step: rx.Var[float]
    disabled: rx.Var[bool]

    # `rx.EventHandler[spec]` is `Annotated[rx.EventHandler, spec]` at runtime (Reflex reads the event's argument
    # spec from it), written out so that it is also a type mypy understands.
    on_value_change: Annotated[rx.EventHandler, passthrough_event_spec(list[float])]
    on_value_commit: Annotated[rx.EventHandler, passthrough_event_spec(list[float])]


param_slider = ParamSlider.create


def _key(p: ObjectVar[ParamView], suffix: str):
    return (
        WorkbenchState.item_id
        + "-"
        + p.name.to(str)
        + "-"
        + WorkbenchState.code_nonce.to_string()
        + "-"
        + WorkbenchState.units
        + suffix
    )


def _row(p: ObjectVar[ParamView]) -> rx.Component:
    busy = (WorkbenchState.rendering == "code") | (WorkbenchState.rendering == "keeping")
    return rx.vstack(
        rx.hstack(
            rx.text(
                p.label,
                size="1",
                flex="1",
                min_width="0",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                title=p.description,
            ),
            form(
                # keyed by its text too: it follows the slider's previewed value
                rx.input(
                    name=p.name,
                    default_value=p.text,
                    type="number",
                    step="any",
                    size="1",
                    width="6.5em",
                    aria_label=p.aria.to(str) + " value",
                    key=_key(p, "n") + p.text,
                    disabled=busy,
                    on_blur=lambda text: WorkbenchState.preview_field(p.name, text),  # type: ignore[misc]  # an @rx.event handler called with arguments
                ),
                on_submit=WorkbenchState.preview_number,
                reset_on_submit=False,
                flex="none",
                width="auto",
            ),
            rx.text(p.unit, size="1", color_scheme="gray", width="2.2em", flex_shrink="0"),
            spacing="2",
            align="center",
            width="100%",
        ),
        param_slider(
            label=p.aria,
            value=p.value,
            min=p.min,
            max=p.max,
            step=p.step,
            on_value_change=lambda v: WorkbenchState.preview_slider(p.name, v).debounce(DEBOUNCE_MS),  # type: ignore[misc]  # an @rx.event handler called with arguments
            on_value_commit=lambda v: WorkbenchState.preview_slider(p.name, v),  # type: ignore[misc]  # an @rx.event handler called with arguments
            disabled=busy,
            key=_key(p, "s"),
            data_param=p.name,
            width="100%",
        ),
        spacing="1",
        width="100%",
        data_testid="param-row",
        padding_bottom="0.35em",
    )


def parameters_panel() -> rx.Component:
    return rx.cond(
        WorkbenchState.has_params,
        rx.box(
            rx.hstack(
                rx.text("Parameters", size="2", weight="bold"),
                rx.cond(WorkbenchState.rendering == "parameters", rx.spinner(size="1")),
                rx.spacer(),
                rx.text(
                    rx.cond(WorkbenchState.previewing, WorkbenchState.preview_dims, WorkbenchState.dims),
                    size="1",
                    color_scheme="gray",
                    data_testid="param-dims",
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                WorkbenchState.previewing,
                rx.hstack(
                    rx.badge("Preview, not saved", color_scheme="amber", variant="soft", size="1"),
                    rx.spacer(),
                    rx.button(
                        rx.icon("check", size=14),
                        "Keep as new version",
                        size="1",
                        loading=WorkbenchState.rendering == "keeping",
                        disabled=WorkbenchState.rendering == "parameters",
                        on_click=ChatReactionsState.keep_preview,
                    ),
                    rx.button(
                        "Discard",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        disabled=WorkbenchState.rendering == "keeping",
                        on_click=WorkbenchState.discard_preview,
                    ),
                    align="center",
                    width="100%",
                    wrap="wrap",
                    spacing="2",
                    margin_y="0.25em",
                    data_testid="param-preview",
                ),
            ),
            rx.cond(
                (WorkbenchState.edit_error != "") & (WorkbenchState.tab == "preview"),
                rx.callout(
                    WorkbenchState.edit_error,
                    color_scheme="red",
                    size="1",
                    role="alert",
                    margin_y="0.25em",
                    data_testid="param-error",
                ),
            ),
            rx.vstack(rx.foreach(WorkbenchState.params, _row), spacing="1", width="100%", margin_top="0.25em"),
            rx.text(
                "Changes preview at once (no model call); keep them to make a new version.",
                size="1",
                color_scheme="gray",
            ),
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

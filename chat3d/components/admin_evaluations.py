"""The Models tab's "Evaluate models" section: cost up front, a confirmed cap, live progress, cancel, history."""

from __future__ import annotations

import reflex as rx

from chat3d.state.admin_evaluations import AdminEvaluationsState as E

HISTORY_COLUMNS = (
    "When",
    "Model",
    "Suite (version)",
    "Code version",
    "Tasks",
    "Pass rate",
    "Valid parts",
    "Cost",
    "Cost per valid part",
    "Seconds",
    "Result",
)


def _small(text) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray")


def _labelled(label: str, id_: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style={"fontWeight": 500, "fontSize": "var(--font-size-2)"}),
        control,
        spacing="1",
    )


def _start_form() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _labelled(
                "Model",
                "eval-model",
                rx.select.root(
                    rx.select.trigger(id="eval-model", aria_label="Model to evaluate", min_width="14em"),
                    rx.select.content(
                        rx.foreach(E.eval_choices, lambda c: rx.select.item(c["label"], value=c["name"]))
                    ),
                    value=E.eval_model,
                    on_change=E.set_eval_model,
                ),
            ),
            _labelled(
                "Tasks",
                "eval-tasks",
                rx.input(
                    id="eval-tasks",
                    type="number",
                    min=1,
                    max=E.eval_suite_tasks,
                    value=E.eval_tasks,
                    on_change=E.set_eval_tasks,
                    width="6em",
                ),
            ),
            _labelled(
                "Cost cap (USD)",
                "eval-cap",
                rx.input(id="eval-cap", value=E.eval_cap, on_change=E.set_eval_cap, width="8em", input_mode="decimal"),
            ),
            rx.button(
                "Start evaluation",
                id="eval-start",
                on_click=E.start_evaluation,
                disabled=(E.eval_active.length() > 0) | (E.eval_unavailable != ""),  # type: ignore[attr-defined]  # a Var on class access: Reflex types an rx.Field[dict] as ArrayVar[Never] under mypy, so the dict stays plain
            ),
            align="end",
            spacing="4",
            wrap="wrap",
        ),
        rx.text(rx.text.strong("Estimated cost: "), E.eval_estimate, size="2", id="eval-estimate"),
        _small(
            rx.text(
                "CadQueryEval ",
                E.eval_suite_version,
                ", the first tasks in order. The run stops as soon as it "
                "has spent more than the cap; at most the configured number of its renders run at once "
                "(EVAL_RENDER_CONCURRENCY), so users keep theirs.",
            )
        ),
        rx.cond(
            E.eval_error != "",
            rx.callout(E.eval_error, icon="triangle-alert", color_scheme="red", role="alert", size="1"),
        ),
        rx.cond(E.eval_unavailable != "", rx.callout(E.eval_unavailable, icon="info", color_scheme="amber", size="1")),
        spacing="2",
        width="100%",
    )


def _progress() -> rx.Component:
    a = E.eval_active
    return rx.cond(
        a.length() > 0,  # type: ignore[attr-defined]  # a Var on class access: Reflex types an rx.Field[dict] as ArrayVar[Never] under mypy, so the dict stays plain
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text(rx.text.strong(a["model"]), " · ", a["state"], size="2"),
                    rx.spacer(),
                    rx.button(
                        rx.cond(a["cancelling"] != "", "Cancelling…", "Cancel"),
                        id="eval-cancel",
                        color_scheme="red",
                        variant="soft",
                        size="1",
                        disabled=a["cancelling"] != "",
                        on_click=E.cancel_evaluation(a["id"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    ),
                    width="100%",
                    align="center",
                ),
                rx.progress(value=E.eval_percent, max=100, width="100%", aria_label="Evaluation progress"),
                rx.text(
                    a["done"],
                    " of ",
                    a["total"],
                    " tasks done",
                    rx.cond(a["current"] != "", rx.text.span(" · running ", a["current"]), ""),
                    " · spent ",
                    a["spent"],
                    " of the ",
                    a["cap"],
                    " cap",
                    size="2",
                    id="eval-progress",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            role="status",
        ),
    )


def _history_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_small(row["when"])),
        rx.table.cell(rx.text(row["model"], size="2", weight="medium")),
        rx.table.cell(_small(row["suite"])),
        rx.table.cell(rx.code(row["code"], size="1")),
        rx.table.cell(row["tasks"]),
        rx.table.cell(row["pass_rate"]),
        rx.table.cell(row["valid"]),
        rx.table.cell(row["cost"]),
        rx.table.cell(row["per_valid"]),
        rx.table.cell(row["seconds"]),
        rx.table.cell(
            rx.vstack(
                rx.badge(
                    row["state_text"],
                    color_scheme=rx.match(row["state"], ("completed", "green"), ("failed", "red"), "amber"),
                    variant="soft",
                ),
                _small(row["message"]),
                spacing="1",
            )
        ),
        data_testid="eval-history-row",
    )


def evaluations_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Evaluate models", size="4", margin_top="0.5em"),
        _small(
            "Runs the benchmark suite through the real pipeline with one model, as a background job, and keeps "
            "the measured pass rate and cost per valid part with the suite and code versions."
        ),
        _start_form(),
        _progress(),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in HISTORY_COLUMNS])),
                rx.table.body(rx.foreach(E.eval_history, _history_row)),
                variant="surface",
                size="1",
                width="100%",
            ),
            rx.cond(E.eval_history.length() == 0, _small("No finished evaluations yet.")),
            width="100%",
            overflow_x="auto",
            id="eval-history",
        ),
        spacing="3",
        width="100%",
        on_mount=E.load_evaluations,
    )

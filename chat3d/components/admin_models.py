"""The admin console's Models tab: credentials per provider (fingerprint only), model picks and defaults."""

from __future__ import annotations

import reflex as rx

from chat3d.components.admin_evaluations import evaluations_section
from chat3d.components.forms import form, submit_button
from chat3d.state.admin_models import AdminModelsState as S


def _small(text) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray")


def _field(label: str, id_: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style={"fontWeight": 500, "fontSize": "var(--font-size-2)"}),
        control,
        _small(hint) if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def _credential_form(row) -> rx.Component:
    ollama = row["provider"] == "ollama"
    return form(
        rx.vstack(
            _field(
                rx.cond(ollama, "Token (optional)", "API key"),
                "model-key",
                rx.input(
                    id="model-key",
                    name="api_key",
                    type="password",
                    auto_complete="off",
                    spell_check=False,
                    width="100%",
                    max_length=1000,
                ),
                "Stored encrypted; it is never shown again, only its last four characters.",
            ),
            _field(
                rx.cond(ollama, "Server address", "Server address (optional)"),
                "model-url",
                rx.input(
                    id="model-url",
                    name="base_url",
                    default_value=S.url_input,
                    width="100%",
                    max_length=500,
                    placeholder=rx.cond(ollama, "http://localhost:11434", "the vendor's own API"),
                ),
                "Only this host is called. Leave empty for the vendor's API (hosted providers).",
            ),
            rx.hstack(
                rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.close_form),
                submit_button("Save"),
                spacing="2",
                justify="end",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.save_credential,
        reset_on_submit=False,  # a refused entry stays in the browser to correct; saved, the form closes
        width="100%",
    )


def _provider_card(row) -> rx.Component:
    from_env = row["source"] == "environment"
    stored = row["source"] == "console"
    result = S.test_results[row["provider"]].to(str)  # type: ignore[attr-defined]  # a Var on class access: Reflex types an rx.Field[dict] as ArrayVar[Never] under mypy, so the dict stays plain
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(row["label"], size="3"),
                rx.badge(
                    row["source_text"],
                    color_scheme=rx.match(row["source"], ("environment", "blue"), ("console", "green"), "gray"),
                    variant="soft",
                ),
                rx.spacer(),
                rx.cond(stored, rx.code(row["fingerprint"], size="1", aria_label="Key fingerprint")),
                width="100%",
                align="center",
            ),
            rx.cond(from_env, _small("Read-only here: " + row["env_name"].to(str) + " is set; change it there.")),
            rx.cond(row["base_url"] != "", _small("Server: " + row["base_url"].to(str))),
            rx.cond(stored, _small("Changed " + row["updated"].to(str))),
            rx.cond(
                S.editing == row["provider"],
                _credential_form(row),
                rx.hstack(
                    rx.cond(
                        ~from_env,
                        rx.button(
                            rx.cond(stored, "Replace key", "Add key"),
                            size="1",
                            variant="soft",
                            on_click=S.open_form(row["provider"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                            aria_label=rx.cond(stored, "Replace ", "Add ") + row["label"].to(str) + " key",
                        ),
                    ),
                    rx.cond(
                        row["source"] != "none",
                        rx.button(
                            "Test connection",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            loading=S.testing == row["provider"],
                            on_click=S.test_connection(row["provider"]),  # type: ignore[misc]  # an @rx.event handler called with arguments
                            aria_label="Test " + row["label"].to(str) + " connection",
                        ),
                    ),
                    rx.cond(
                        stored,
                        rx.button(
                            "Remove",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=S.delete_credential(row["provider"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
                            aria_label="Remove " + row["label"].to(str) + " key",
                        ),
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            rx.cond(
                S.test_results.contains(row["provider"]),  # type: ignore[attr-defined]  # a Var on class access: Reflex types an rx.Field[dict] as ArrayVar[Never] under mypy, so the dict stays plain
                rx.callout(
                    result,
                    icon=rx.cond(S.test_failures.contains(row["provider"]), "triangle-alert", "circle-check"),
                    color_scheme=rx.cond(S.test_failures.contains(row["provider"]), "red", "green"),
                    size="1",
                    role="status",
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _default_select(label: str, id_: str, options, value, on_change, note) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style={"fontWeight": 500}),
        rx.select.root(
            rx.select.trigger(id=id_, aria_label=label, min_width="16em"),
            rx.select.content(rx.foreach(options, lambda m: rx.select.item(m["label"], value=m["id"]))),
            value=value,
            on_change=on_change,
            disabled=note.contains("environment"),
        ),
        rx.cond(note != "", _small(note)),
        spacing="1",
    )


def _model_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row["label"], size="2", weight="medium"),
                _small(row["provider"].to(str) + " · " + row["id"].to(str)),
                _small(row["stages"]),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                row["usable"] == "1",
                rx.badge("Ready", color_scheme="green", variant="soft"),
                rx.badge("Needs a key", color_scheme="gray", variant="soft"),
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=row["enabled"] == "1",
                disabled=row["default"] != "",
                on_change=lambda on: S.set_enabled(row["id"], row["label"], on),  # type: ignore[operator]  # an @rx.event handler called with arguments
                aria_label="Users may pick " + row["label"].to(str),
            )
        ),
        rx.table.cell(_small(row["default"])),
        align="center",
    )


def models_tab() -> rx.Component:
    return rx.vstack(
        rx.heading("Providers", size="4"),
        _small(
            "Keys set in the environment win and are shown read-only. A key added here is encrypted with the "
            "deployment's credential key."
        ),
        rx.grid(
            rx.foreach(S.providers, _provider_card),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
        rx.heading("Defaults for new chats", size="4", margin_top="0.5em"),
        rx.hstack(
            _default_select(
                "Conversation model",
                "default-conversation",
                S.conversation_options,
                S.default_conversation,
                S.set_default_conversation,
                S.default_conversation_note,
            ),
            _default_select(
                "Code model",
                "default-codegen",
                S.codegen_options,
                S.default_codegen,
                S.set_default_codegen,
                S.default_codegen_note,
            ),
            spacing="5",
            wrap="wrap",
        ),
        rx.heading("Models users may pick", size="4", margin_top="0.5em"),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Model", "Status", "Users may pick", "Default for")]
                    )
                ),
                rx.table.body(rx.foreach(S.models, _model_row)),
                variant="surface",
                size="1",
                width="100%",
            ),
            width="100%",
            overflow_x="auto",
        ),
        evaluations_section(),  # issue 23: measure a model before offering it (chat3d/components/admin_evaluations.py)
        spacing="3",
        width="100%",
        on_mount=S.load_models,
    )

"""The admin console's Models tab: provider credentials, which models users may pick, and the defaults.

A typed key is never kept in state (which Redis may store): the form sends it once, with the submit, straight
to chat3d.domain.model_settings; the tab then shows its fingerprint, never the key. Every handler re-checks that the caller is an admin.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import User
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.state.admin import AdminState

SOURCE_TEXT = {"environment": "Set by the environment", "console": "Added here", "none": "Not set"}


class AdminModelsState(AdminState):
    providers: list[dict[str, str]] = []
    models: list[dict[str, str]] = []
    conversation_options: list[dict[str, str]] = []
    codegen_options: list[dict[str, str]] = []
    default_conversation: str = ""
    default_codegen: str = ""
    default_conversation_note: str = ""
    default_codegen_note: str = ""
    editing: str = ""  # provider whose form is open
    url_input: str = ""  # the stored server address, to prefill the form
    testing: str = ""  # provider whose connection test is running
    test_results: dict[str, str] = {}
    test_failures: rx.Field[list[str]] = rx.field(default_factory=list)  # providers whose last test failed

    def _load_models(self) -> None:
        from chat3d.domain.model_settings import PROVIDER_LABELS, console_view

        with session_scope() as session:
            providers, models, config = console_view(session)
        self.providers = [
            {
                "provider": p.provider,
                "label": p.label,
                "source": p.source,
                "source_text": "Unreadable: replace the key" if p.unreadable else SOURCE_TEXT[p.source],
                "fingerprint": p.fingerprint,
                "base_url": p.base_url,
                "updated": dates.stamp(p.updated_at),
                "env_name": p.env_name,
            }
            for p in providers
        ]
        self.models = [
            {
                "id": m.id,
                "label": m.label,
                "provider": PROVIDER_LABELS.get(m.provider, m.provider),
                "stages": " · ".join("conversation" if s == "conversation" else "code" for s in m.stages),
                "usable": "1" if m.usable else "",
                "enabled": "1" if m.enabled else "",
                "default": ", ".join("conversation" if s == "conversation" else "code" for s in m.default_for),
            }
            for m in models
        ]
        pickable = [m for m in models if m.usable and m.enabled]
        self.conversation_options = [{"id": m.id, "label": m.label} for m in pickable if "conversation" in m.stages]
        self.codegen_options = [{"id": m.id, "label": m.label} for m in pickable if "codegen" in m.stages]
        self.default_conversation, self.default_codegen = config.defaults["conversation"], config.defaults["codegen"]
        self.default_conversation_note = self._note(config.default_source["conversation"], "CONVERSATION")
        self.default_codegen_note = self._note(config.default_source["codegen"], "CODEGEN")

    @staticmethod
    def _note(source: str, stage: str) -> str:
        if source == "environment":
            return f"Set by the environment (DEFAULT_{stage}_MODEL); change it there."
        return "The offline model, until you choose one." if source == "built-in" else ""

    @rx.event
    def load_models(self):
        if self._admin() is None:
            return rx.redirect("/login")
        try:
            self._load_models()
        except DomainError as exc:
            self.error = exc.message

    def _change(self, fn, success: str):
        """Run one model_settings change as the re-checked admin, then re-read the tab."""
        admin = self._admin()
        if admin is None:
            return rx.redirect("/login")
        self.notice = self.error = ""
        try:
            with session_scope() as session:
                fn(session, session.get(User, admin.id))
        except DomainError as exc:
            self.error = exc.message
            return None
        self.notice = success
        self._load_models()
        return None

    @rx.event
    def open_form(self, provider: str):
        self.editing, self.error, self.notice = provider, "", ""
        self.url_input = next(
            (p["base_url"] for p in self.providers if p["provider"] == provider and p["source"] == "console"), ""
        )

    @rx.event
    def close_form(self):
        self.editing, self.url_input = "", ""

    @rx.event
    def save_credential(self, form: dict):
        from chat3d.domain.model_settings import PROVIDER_LABELS, save_credential

        provider = self.editing
        key, url = str(form.get("api_key") or ""), str(form.get("base_url") or "")
        name = PROVIDER_LABELS.get(provider, provider)
        result = self._change(
            lambda s, me: save_credential(s, me, provider, key, url, ip=self._ip),
            f"{name} is set up. Test the connection to check the key.",
        )
        if not self.error:
            self.editing, self.url_input = "", ""
            self.test_results = {k: v for k, v in self.test_results.items() if k != provider}
        return result

    @rx.event
    def delete_credential(self, provider: str):
        from chat3d.domain.model_settings import PROVIDER_LABELS, delete_credential

        self.test_results = {k: v for k, v in self.test_results.items() if k != provider}
        return self._change(
            lambda s, me: delete_credential(s, me, provider, ip=self._ip),
            f"The {PROVIDER_LABELS.get(provider, provider)} credential was removed.",
        )

    @rx.event(background=True)
    async def test_connection(self, provider: str):
        """One listing call to the provider (up to 10 s), outside the state lock."""
        from chat3d.domain.model_settings import check_connection

        async with self:
            if self._admin() is None:
                return
            self.testing, self.notice, self.error = provider, "", ""
        failed = False
        try:
            message = await asyncio.to_thread(check_connection, provider)
        except DomainError as exc:
            message, failed = exc.message, True
        async with self:
            self.testing = ""
            self.test_results = {**self.test_results, provider: message}
            self.test_failures = [p for p in self.test_failures if p != provider] + ([provider] if failed else [])

    @rx.event
    def set_enabled(self, model_id: str, label: str, enabled: bool):
        from chat3d.domain.model_settings import set_enabled

        return self._change(
            lambda s, me: set_enabled(s, me, model_id, bool(enabled), ip=self._ip),
            f"Users {'may' if enabled else 'can no longer'} pick {label}.",
        )

    @rx.event
    def set_default_conversation(self, model_id: str):
        from chat3d.domain.model_settings import model_label, set_default

        return self._change(
            lambda s, me: set_default(s, me, "conversation", model_id, ip=self._ip),
            f"New chats talk with {model_label(model_id)}.",
        )

    @rx.event
    def set_default_codegen(self, model_id: str):
        from chat3d.domain.model_settings import model_label, set_default

        return self._change(
            lambda s, me: set_default(s, me, "codegen", model_id, ip=self._ip),
            f"New chats write code with {model_label(model_id)}.",
        )

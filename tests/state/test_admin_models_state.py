"""The Models tab's handlers on a real state tree: a non-admin's events change nothing (a client can send any
event), and a saved key never enters the state (which the Redis state manager would store)."""

from __future__ import annotations

import pickle

import pytest
import reflex as rx
import sqlalchemy as sa
from sqlmodel import Session

from chat3d.db.models import Role, User
from chat3d.settings import reset_settings_cache
from chat3d.state.admin_models import AdminModelsState
from chat3d.state.auth import AuthState

KEY = "sk-state-test-0123456789WXYZ"


@pytest.fixture
def tab(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    """The Models tab's state, signed in as `who["user"]`; no model keys from the environment."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY", "OLLAMA_BASE_URL"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()
    who: dict[str, User | None] = {"user": make_user("plain@example.com")}
    monkeypatch.setattr(AuthState, "_current_user", lambda self: who["user"])
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(AdminModelsState.get_full_name().split(".")[1:])
    return state, who


def _stored(db: Session) -> int:
    return db.execute(sa.text("SELECT count(*) FROM llm_credentials")).scalar_one()


def test_a_non_admin_cannot_add_or_remove_a_key(tab, db: Session, make_user) -> None:
    state, who = tab
    state.editing = "openai"  # a forged client can set up any state it likes before the event
    state.save_credential({"api_key": KEY, "base_url": ""})
    assert _stored(db) == 0 and state.error == "Only admins may do this."

    who["user"] = make_user("root@example.com", role=Role.admin.value)
    state.editing, state.error = "openai", ""
    state.save_credential({"api_key": KEY, "base_url": ""})
    assert _stored(db) == 1 and state.error == "" and "OpenAI is set up" in state.notice

    who["user"] = db.get(User, db.execute(sa.text("SELECT id FROM users WHERE email = 'plain@example.com'")).scalar_one())
    state.delete_credential("openai")
    assert _stored(db) == 1


def test_the_key_never_enters_the_state(tab, make_user) -> None:
    state, who = tab
    who["user"] = make_user("root@example.com", role=Role.admin.value)
    state.load_models()
    state.open_form("openai")
    state.save_credential({"api_key": KEY, "base_url": ""})
    openai = next(p for p in state.providers if p["provider"] == "openai")
    assert openai["fingerprint"] == "…WXYZ" and state.editing == ""
    assert KEY.encode() not in pickle.dumps(state.dict())

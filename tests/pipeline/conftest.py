"""Pipeline fixtures: a user with a chat, the real render service, a scripted or offline model."""

from __future__ import annotations

import pytest
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import Notification, User
from chat3d.domain import chats
from chat3d.settings import reset_settings_cache
from tests.support import scripted_llm


@pytest.fixture
def pipeline_env(app_env, render_service, monkeypatch):
    monkeypatch.setenv("RENDER_SERVICE_URL", render_service.url)
    monkeypatch.setenv("RENDER_SERVICE_TOKEN", render_service.token)
    reset_settings_cache()
    return app_env


@pytest.fixture
def owner(pipeline_env):
    with session_scope() as s:
        user = User(email="maker@example.com")
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id)
        return user.id, ctx.id


@pytest.fixture
def scripted(pipeline_env, monkeypatch) -> scripted_llm.ScriptedProvider:
    provider = scripted_llm.ScriptedProvider()
    scripted_llm.install(monkeypatch, provider)
    reset_settings_cache()
    return provider


def query_states(user_id, query_id) -> list[tuple[str, int]]:
    """The chat.query.state events recorded for one query, in order."""
    with session_scope() as s:
        rows = s.exec(select(Notification).where(Notification.user_id == user_id, Notification.event_type == "chat.query.state")
                      .order_by(Notification.id)).all()
        return [(r.payload["state"], r.payload["round"]) for r in rows if r.payload["queryId"] == str(query_id)]

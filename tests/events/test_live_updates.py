"""Issue 24 item 5, against a running app with Redis: a user's own role change is a durable per-user event on
their stream; a public-settings change reaches every open stream as an ephemeral broadcast (no id, not stored),
with camelCase keys like every other payload."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from sqlmodel import Session

from chat3d.db.engine import get_engine
from chat3d.db.models import Role
from chat3d.domain import sessions as auth_sessions
from chat3d.events import types as T
from tests.events.conftest import make_user
from tests.events.test_stream_http import Stream


def _user(role: str = Role.user.value) -> tuple[uuid.UUID, str]:
    with Session(get_engine(), expire_on_commit=False) as s:
        user = make_user(s, role=role)
        token = auth_sessions.start_session(s, user, ip="127.0.0.1", user_agent="pytest")
        s.commit()
        return user.id, token


async def test_role_change_and_public_settings_reach_the_users_stream(quiet_stack) -> None:
    _, admin = await asyncio.to_thread(_user, Role.admin.value)
    user_id, token = await asyncio.to_thread(_user)
    bearer = {"Authorization": f"Bearer {admin}"}
    async with Stream(quiet_stack["url"], token) as s, httpx.AsyncClient(base_url=quiet_stack["url"]) as client:
        await s.ready()
        changed = await client.patch("/api/admin/settings", json={"waitlistEnabled": True, "invitationQuotaPerUser": 7},
                                     headers=bearer)
        assert changed.status_code == 200
        frame = await s.next(timeout=10)
        assert frame is not None and frame.event == T.PUBLIC_SETTINGS_UPDATED
        body = json.loads(frame.data)
        assert body["id"] is None and body["payload"]["waitlistEnabled"] is True
        assert body["payload"]["invitationQuotaPerUser"] == 7 and "updatedBy" not in body["payload"]
        assert all("_" not in key for key in body["payload"])
        (block,) = [b for b in "\n".join(s.raw_lines).split("\n\n") if f"event: {T.PUBLIC_SETTINGS_UPDATED}" in b]
        assert not any(line.startswith("id:") for line in block.split("\n"))  # Last-Event-ID stays put

        promoted = await client.patch(f"/api/admin/users/{user_id}/role", json={"role": "admin"}, headers=bearer)
        assert promoted.status_code == 200
        event = json.loads((await s.next(timeout=10)).data)
        assert event["type"] == T.ACCOUNT_ROLE_CHANGED and event["payload"] == {"role": "admin"} and event["id"] > 0

        replay = (await client.get("/api/events/replay", headers={"Authorization": f"Bearer {token}"})).json()
        assert [e["type"] for e in replay["items"]] == [T.ACCOUNT_ROLE_CHANGED]  # the broadcast was not stored
        admin_events = (await client.get("/api/events/replay", headers=bearer)).json()["items"]
        (settings_event,) = [e for e in admin_events if e["type"] == T.ADMIN_SETTINGS_UPDATED]
        assert all("_" not in key for key in settings_event["payload"])
        assert settings_event["payload"]["updatedAt"].endswith("Z")

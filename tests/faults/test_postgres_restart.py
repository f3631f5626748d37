"""PostgreSQL stopped and started again under a running API (its own throwaway cluster, since we stop it).

Extends tests/api/test_health.py::test_ready_reports_database_outage_and_recovers (which checks /ready only)
with data: everything committed before the outage is there afterwards, a write attempted during the outage
leaves no trace, the same session token works again, and the app needs no restart (its pool reconnects).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chat3d.api import create_api
from chat3d.db.engine import engine_for
from chat3d.db.migrate import upgrade_to_head
from chat3d.domain.ratelimit import reset_rate_limits
from chat3d.settings import reset_settings_cache
from tests.support.servers import ThrowawayPostgres


@pytest.fixture
def pg(tmp_path, monkeypatch):
    server = ThrowawayPostgres().start()
    url = server.url()
    upgrade_to_head(url)
    for key, value in {"DATABASE_URL": url, "DATA_DIR": str(tmp_path), "RENDER_SERVICE_URL": "http://127.0.0.1:9",
                       "CHAT3D_ENV": "test", "BCRYPT_ROUNDS": "4", "JWT_SECRET": "pg-restart-secret-" + "x" * 32,
                       # signed in at registration (a closed deployment), so the test needs no mailbox
                       "REGISTRATION_EMAIL_VERIFICATION": "false"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_settings_cache()
    reset_rate_limits()
    try:
        yield server
    finally:
        engine_for.cache_clear()
        reset_settings_cache()
        server.stop()


def _snapshot(api: TestClient, h: dict) -> dict:
    contexts = api.get("/api/chat/contexts", headers=h).json()
    return {
        "me": api.get("/api/auth/me", headers=h).json()["email"],
        "contexts": sorted((c["id"], c["name"]) for c in contexts["items"]),
        "notifications": api.get("/api/notifications/unread-count", headers=h).json(),
    }


def test_postgres_restart_loses_no_committed_data(pg: ThrowawayPostgres) -> None:
    api = TestClient(create_api(), raise_server_exceptions=False)
    reg = api.post("/api/auth/register", json={"email": "durable@example.com", "password": "durable horse battery"})
    assert reg.status_code == 201, reg.text
    api.cookies.clear()
    h = {"Authorization": f"Bearer {reg.json()['token']}"}
    for name in ("Bracket", "Hinge", "Enclosure"):
        assert api.post("/api/chat/contexts", json={"name": name}, headers=h).status_code == 201
    before = _snapshot(api, h)
    assert len(before["contexts"]) == 3

    pg.stop_only()
    down = api.get("/ready")
    assert down.status_code == 503 and down.json()["failing"] == ["database"]
    assert api.get("/health").status_code == 200
    lost_write = api.post("/api/chat/contexts", json={"name": "During outage"}, headers=h)
    assert lost_write.status_code == 503 and "error" in lost_write.json()  # refused, clearly

    pg.start_existing()
    assert api.get("/ready").status_code == 200
    after = _snapshot(api, h)
    assert after == before, "committed data changed across the restart"
    assert "During outage" not in [n for _, n in after["contexts"]]
    # The app works on without a restart: a new write commits.
    assert api.post("/api/chat/contexts", json={"name": "After"}, headers=h).status_code == 201


def test_api_answers_503_json_while_the_database_is_down(pg: ThrowawayPostgres) -> None:
    api = TestClient(create_api(), raise_server_exceptions=False)
    reg = api.post("/api/auth/register", json={"email": "waiting@example.com", "password": "durable horse battery"})
    api.cookies.clear()
    h = {"Authorization": f"Bearer {reg.json()['token']}"}
    pg.stop_only()
    try:
        resp = api.get("/api/chat/contexts", headers=h)
        assert resp.status_code == 503 and "error" in resp.json() and resp.headers.get("retry-after")
    finally:
        pg.start_existing()

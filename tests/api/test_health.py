"""/health always answers while the process lives; /ready follows its dependencies and recovers with them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chat3d.api import create_api
from chat3d.db.engine import engine_for
from chat3d.db.migrate import upgrade_to_head
from chat3d.settings import reset_settings_cache
from tests.support.servers import ThrowawayPostgres, ThrowawayRedis


@pytest.fixture
def client(app_env) -> TestClient:
    return TestClient(create_api())


def test_health_and_ready_with_database_up(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    resp = client.get("/ready")
    assert resp.status_code == 200
    body = resp.json()
    assert body["dependencies"]["database"]["status"] == "ok"
    # No render service at the configured address: reported, but the app stays ready (degraded).
    assert body["dependencies"]["render_service"]["status"] == "down"
    assert body["status"] == "degraded"


def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    resp = client.get("/api/does/not/exist")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    assert "error" in resp.json()


def test_openapi_and_docs_are_under_api(client: TestClient) -> None:
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Chat3D API"
    assert client.get("/api/docs").status_code == 200


def test_ready_reports_database_outage_and_recovers(tmp_path, monkeypatch) -> None:
    pg = ThrowawayPostgres().start()
    try:
        url = pg.url()
        upgrade_to_head(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DATA_DIR", str(tmp_path))
        monkeypatch.setenv("RENDER_SERVICE_URL", "http://127.0.0.1:9")
        monkeypatch.delenv("REDIS_URL", raising=False)
        reset_settings_cache()
        client = TestClient(create_api())
        assert client.get("/ready").status_code == 200

        pg.stop_only()
        down = client.get("/ready")
        assert down.status_code == 503
        assert down.json()["failing"] == ["database"]
        assert down.json()["dependencies"]["database"]["reason"]
        assert client.get("/health").status_code == 200

        pg.start_existing()
        assert client.get("/ready").status_code == 200
    finally:
        engine_for.cache_clear()
        reset_settings_cache()
        pg.stop()


def test_ready_requires_redis_when_configured(app_env, monkeypatch) -> None:
    redis = ThrowawayRedis().start()
    try:
        monkeypatch.setenv("REDIS_URL", redis.url)
        reset_settings_cache()
        client = TestClient(create_api())
        assert client.get("/ready").json()["dependencies"]["redis"]["status"] == "ok"
        redis.stop()
        resp = client.get("/ready")
        assert resp.status_code == 503 and resp.json()["failing"] == ["redis"]
    finally:
        redis.stop()
        reset_settings_cache()


def test_production_refuses_default_jwt_secret(monkeypatch) -> None:
    """The well-known example value is refused outside `test`; no value at all means "generate one" (keys.py)."""
    from pydantic import ValidationError

    from chat3d.settings import DEFAULT_JWT_SECRET, Settings

    monkeypatch.setenv("CHAT3D_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", DEFAULT_JWT_SECRET)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert Settings(_env_file=None).jwt_secret == ""
    monkeypatch.setenv("JWT_SECRET", "a-long-private-value")
    assert Settings(_env_file=None).chat3d_env == "production"

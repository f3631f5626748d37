"""Security headers, no permissive CORS, API rate limits with Retry-After, and recorded security events."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from chat3d.api.security import content_security_policy
from chat3d.domain.security_events import list_security_events
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD


def test_security_headers_on_every_response(api: TestClient) -> None:
    policy = content_security_policy()
    for resp in (api.get("/health"), api.get("/api/nope"), api.get("/api/auth/me"), api.get("/api/public/config")):
        assert resp.headers["content-security-policy"] == policy
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in resp.headers
    for directive in ("frame-ancestors 'none'", "'unsafe-eval'", "connect-src 'self';", "worker-src 'self' blob:"):
        assert directive in policy
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "ws:" not in policy  # issue 21: measured, not permissive


def test_hsts_only_behind_https(accounts_env, monkeypatch) -> None:
    from chat3d.api import create_api

    monkeypatch.setenv("APP_BASE_URL", "https://chat3d.example.com")
    reset_settings_cache()
    assert "max-age" in TestClient(create_api()).get("/health").headers["strict-transport-security"]


def test_no_permissive_cors(api: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in api.get("/api/public/config", headers=origin).headers
    preflight = api.options("/api/auth/login", headers=origin | {"Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_api_rate_limit_answers_429_with_retry_after_and_recovers(api: TestClient, make_user, db, monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_API", "3 per 1 second")
    reset_settings_cache()
    user = make_user("a@example.com")
    token = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert [api.get("/api/auth/me", headers=auth).status_code for _ in range(3)] == [200] * 3
    limited = api.get("/api/auth/me", headers=auth)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"].startswith("Too many requests") and limited.json()["detail"] == {"retryAfter": 1}
    time.sleep(1.1)
    assert api.get("/api/auth/me", headers=auth).status_code == 200
    [event], _ = list_security_events(db, event_type="rate_limited")
    assert (event.user_id, event.details["limit"]) == (user.id, "api")


def test_login_and_registration_limits_over_http(api: TestClient, monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_REGISTER", "2/minute")
    reset_settings_cache()
    for i in range(2):
        # 202 "check your mail": open registration confirms the address first (issue 21)
        assert api.post("/api/auth/register", json={"email": f"u{i}@example.com", "password": PASSWORD}).status_code == 202
    blocked = api.post("/api/auth/register", json={"email": "u9@example.com", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_refusals_are_recorded_as_security_events(api: TestClient, make_user, db) -> None:
    make_user("a@example.com")
    api.post("/api/auth/login", json={"email": "a@example.com", "password": "wrong horse battery"}, headers={"User-Agent": "probe"})
    api.get("/api/auth/me", headers={"Authorization": "Bearer forged"})
    token = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    api.post("/api/auth/sessions/revoke-others")  # by cookie, no CSRF header
    api.post("/api/auth/logout", headers={"X-Chat3D-CSRF": "1"})
    api.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    events, total = list_security_events(db)
    assert {e.event_type for e in events} == {"login.failed", "token.invalid", "csrf.refused", "token.revoked"}
    failed = next(e for e in events if e.event_type == "login.failed")
    assert (failed.email, failed.ip, failed.user_agent) == ("a@example.com", "testclient", "probe")

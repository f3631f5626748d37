"""/api/auth over HTTP: camelCase JSON, the session cookie, the CSRF guard, sessions, logout."""

from __future__ import annotations

from fastapi.testclient import TestClient

from chat3d.db.models import AppSettings
from chat3d.domain.registration import issue_registration_token
from tests.conftest import PASSWORD

CSRF = {"X-Chat3D-CSRF": "1"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _closed_deployment(monkeypatch) -> None:
    """REGISTRATION_EMAIL_VERIFICATION=false: registration signs in at once (the open case: test_accounts.py)."""
    from chat3d.settings import reset_settings_cache

    monkeypatch.setenv("REGISTRATION_EMAIL_VERIFICATION", "false")
    reset_settings_cache()


def test_register_and_login_answer_token_user_and_cookie(api: TestClient, monkeypatch) -> None:
    _closed_deployment(monkeypatch)
    resp = api.post("/api/auth/register", json={"email": "New@Example.com", "password": PASSWORD, "displayName": "Nina"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) == {"token", "user"}
    assert body["user"] | {"id": None} == {"id": None, "email": "new@example.com", "role": "user", "status": "active", "displayName": "Nina"}
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(f"chat3d_session={body['token']}")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    login = api.post("/api/auth/login", json={"email": "new@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["id"] == body["user"]["id"]
    assert api.get("/api/auth/me", headers=_bearer(login.json()["token"])).json()["email"] == "new@example.com"


def test_cookie_is_secure_behind_https(api: TestClient, monkeypatch) -> None:

    monkeypatch.setenv("APP_BASE_URL", "https://chat3d.example.com")
    _closed_deployment(monkeypatch)
    resp = api.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD})
    assert "Secure" in resp.headers["set-cookie"]


def test_errors_have_the_error_shape(api: TestClient, make_user) -> None:
    make_user("a@example.com")
    wrong = api.post("/api/auth/login", json={"email": "a@example.com", "password": "wrong horse battery"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "Wrong email or password."}
    assert wrong.headers["www-authenticate"] == "Bearer"
    dup = api.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD})
    assert dup.status_code == 202 and "Check your mail" in dup.json()["message"]  # taken or not: the same
    bad = api.post("/api/auth/register", json={"email": "a@example.com"})
    assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "password"
    weak = api.post("/api/auth/register", json={"email": "b@example.com", "password": "short"})
    assert weak.status_code == 400 and "at least 8" in weak.json()["error"]


def test_wrong_password_and_deactivated_account_answer_alike(api: TestClient, make_user) -> None:
    make_user("on@example.com")
    make_user("off@example.com", status="deactivated")
    answers = {
        email: api.post("/api/auth/login", json={"email": email, "password": "wrong horse battery"})
        for email in ("on@example.com", "off@example.com", "none@example.com")
    }
    assert {(r.status_code, r.text) for r in answers.values()} == {(401, '{"error":"Wrong email or password."}')}
    right = api.post("/api/auth/login", json={"email": "off@example.com", "password": PASSWORD})
    assert right.status_code == 403 and "deactivated" in right.json()["error"]


def test_waitlist_gates_registration(api: TestClient, db) -> None:
    row = db.get(AppSettings, 1)
    row.waitlist_enabled = True
    db.commit()
    config = api.get("/api/public/config").json()
    assert config | {"environment": None} == {
        "waitlistEnabled": True, "invitationsEnabled": True, "registrationOpen": False, "environment": None,
        "mailDelivery": "files",
    }
    assert api.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD}).status_code == 403
    raw = issue_registration_token(db, "a@example.com", "waitlist")
    db.commit()
    ok = api.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD, "registrationToken": raw})
    assert ok.status_code == 201
    again = api.post("/api/auth/register", json={"email": "a@example.com", "password": PASSWORD, "registrationToken": raw})
    assert again.status_code == 403


def test_cookie_auth_needs_the_csrf_header_to_change_data(api: TestClient, make_user) -> None:
    make_user("a@example.com")
    assert api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).status_code == 200
    # The TestClient keeps the cookie, as a browser would.
    assert api.get("/api/auth/me").json()["email"] == "a@example.com"
    refused = api.post("/api/auth/sessions/revoke-others")
    assert refused.status_code == 403 and "X-Chat3D-CSRF" in refused.json()["error"]
    assert api.post("/api/auth/sessions/revoke-others", headers=CSRF).json() == {"revoked": 0}
    assert api.post("/api/auth/logout").status_code == 403
    assert api.get("/api/auth/me").status_code == 200  # the refused logout changed nothing


def test_bearer_needs_no_csrf_header(api: TestClient, make_user) -> None:
    make_user("a@example.com")
    token = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    assert api.post("/api/auth/sessions/revoke-others", headers=_bearer(token)).status_code == 200


def test_sessions_list_flags_the_current_one_and_revokes(api: TestClient, make_user) -> None:
    make_user("a@example.com")
    tokens = [api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}, headers={"User-Agent": f"agent-{i}"}).json()["token"] for i in range(3)]
    api.cookies.clear()
    listing = api.get("/api/auth/sessions", headers=_bearer(tokens[0])).json()
    assert listing["total"] == 3
    assert {s["userAgent"] for s in listing["items"]} == {"agent-0", "agent-1", "agent-2"}
    assert [s["userAgent"] for s in listing["items"] if s["current"]] == ["agent-0"]
    assert set(listing["items"][0]) == {"id", "createdAt", "lastSeenAt", "expiresAt", "userAgent", "ip", "current"}
    page = api.get("/api/auth/sessions?limit=1&offset=1", headers=_bearer(tokens[0])).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert api.get("/api/auth/sessions?limit=0", headers=_bearer(tokens[0])).status_code == 400

    victim = next(s for s in listing["items"] if s["userAgent"] == "agent-1")
    assert api.delete(f"/api/auth/sessions/{victim['id']}", headers=_bearer(tokens[0])).status_code == 204
    assert api.get("/api/auth/me", headers=_bearer(tokens[1])).status_code == 401
    assert api.delete(f"/api/auth/sessions/{victim['id']}", headers=_bearer(tokens[0])).status_code == 404
    assert api.post("/api/auth/sessions/revoke-others", headers=_bearer(tokens[0])).json() == {"revoked": 1}
    assert api.get("/api/auth/me", headers=_bearer(tokens[2])).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(tokens[0])).status_code == 200


def test_logout_ends_the_session_and_clears_the_cookie(api: TestClient, make_user) -> None:
    make_user("a@example.com")
    first = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    second = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    resp = api.post("/api/auth/logout", headers=CSRF)  # by cookie: the second login's token
    assert resp.status_code == 204
    assert 'chat3d_session=""' in resp.headers["set-cookie"] and "Max-Age=0" in resp.headers["set-cookie"]
    assert api.get("/api/auth/me").status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(second)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(first)).status_code == 200
    assert api.post("/api/auth/logout", headers=_bearer(first)).status_code == 204
    assert api.get("/api/auth/me", headers=_bearer(first)).status_code == 401
    assert api.post("/api/auth/logout").status_code == 204  # nothing to end: still fine


def test_deactivated_users_token_is_refused_on_the_next_call(api: TestClient, make_user, db) -> None:
    user = make_user("a@example.com")
    token = api.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}).json()["token"]
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    db.refresh(user)
    user.status = "deactivated"
    db.commit()
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 401


def test_admin_routes_refuse_other_users(api: TestClient, make_user) -> None:
    make_user("user@example.com")
    make_user("admin@example.com", role="admin")
    user_token = api.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}).json()["token"]
    admin_token = api.post("/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    refused = api.get("/api/admin/outbox", headers=_bearer(user_token))
    assert refused.status_code == 403 and refused.json() == {"error": "Only admins may do this."}
    api.post("/api/auth/register", json={"email": "new@example.com", "password": PASSWORD})
    outbox = api.get("/api/admin/outbox?status=pending", headers=_bearer(admin_token)).json()
    assert outbox["total"] == 1 and outbox["items"][0]["toEmail"] == "new@example.com"
    assert outbox["items"][0]["status"] == "pending" and outbox["items"][0]["attempts"] == 0
    assert api.get("/api/admin/outbox?status=bogus", headers=_bearer(admin_token)).status_code == 400

"""/api/profile and /api/auth/password-reset over HTTP: requests, previews, confirmations, refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.db.models import OutboxMessage, User
from tests.conftest import PASSWORD

CSRF = {"X-Chat3D-CSRF": "1"}
NEW_PASSWORD = "another long passphrase"


def _login(api: TestClient, email: str = "user@example.com", password: str = PASSWORD) -> dict[str, str]:
    resp = api.post("/api/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def _token(db: Session, template: str) -> str:
    db.expire_all()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == template)
                   .order_by(OutboxMessage.created_at.desc())).first()
    assert mail is not None, template
    return parse_qs(urlsplit(mail.context["link"]).query)["token"][0]


def test_profile_read_and_patch(api: TestClient, make_user) -> None:
    make_user(display_name="Ada")
    auth = _login(api)
    body = api.get("/api/profile", headers=auth).json()
    assert body["email"] == "user@example.com" and body["displayName"] == "Ada" and body["marketingConsent"] is False
    resp = api.patch("/api/profile", headers=auth, json={"displayName": "Ada L.", "marketingConsent": True})
    assert resp.status_code == 200 and resp.json()["displayName"] == "Ada L." and resp.json()["marketingConsent"]
    assert api.patch("/api/profile", headers=auth, json={"displayName": "x" * 200}).status_code == 400


def test_password_change_by_link_keeps_this_session(api: TestClient, db: Session, make_user) -> None:
    make_user()
    auth, other = _login(api), _login(api)
    wrong = api.post("/api/profile/reset-password/request", headers=auth,
                     json={"currentPassword": "nope nope nope", "newPassword": NEW_PASSWORD})
    assert wrong.status_code == 403
    weak = api.post("/api/profile/reset-password/request", headers=auth,
                    json={"currentPassword": PASSWORD, "newPassword": "password"})
    assert weak.status_code == 400 and "common" in weak.json()["error"]
    ok = api.post("/api/profile/reset-password/request", headers=auth,
                  json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert ok.status_code == 202
    token = _token(db, "password_change_confirm")
    assert api.get("/api/profile", headers=auth).json()["pendingActions"][0]["type"] == "password_reset"

    preview = api.get("/api/profile/actions/preview", params={"token": token})
    assert preview.status_code == 200 and preview.json()["type"] == "password_reset"
    assert preview.json()["status"] == "pending" and preview.json()["needsPassword"] is False
    assert api.get("/api/profile/actions/preview", params={"token": token}).json()["status"] == "pending", \
        "a GET of the preview changes nothing"

    done = api.post("/api/profile/actions/confirm", headers=auth, json={"token": token})
    assert done.status_code == 200 and done.json()["signedOut"] is False
    assert api.get("/api/auth/me", headers=auth).status_code == 200
    assert api.get("/api/auth/me", headers=other).status_code == 401
    again = api.post("/api/profile/actions/confirm", json={"token": token})
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "used"
    assert api.post("/api/auth/login", json={"email": "user@example.com", "password": NEW_PASSWORD}).status_code == 200


def test_forgot_password_answers_alike_and_resets_by_link(api: TestClient, db: Session, make_user) -> None:
    make_user()
    auth = _login(api)
    answers = [api.post("/api/auth/password-reset/request", json={"email": e})
               for e in ("user@example.com", "nobody@example.com", "garbage")]
    assert {(a.status_code, a.json()["message"]) for a in answers} == {(202, answers[0].json()["message"])}
    token = _token(db, "password_reset")
    assert api.get("/api/profile/actions/preview", params={"token": token}).json()["needsPassword"] is True
    weak = api.post("/api/auth/password-reset/confirm", json={"token": token, "newPassword": "short"})
    assert weak.status_code == 400
    done = api.post("/api/auth/password-reset/confirm", json={"token": token, "newPassword": NEW_PASSWORD})
    assert done.status_code == 200 and done.json()["signedOut"] is True
    assert api.get("/api/auth/me", headers=auth).status_code == 401, "every session ends"
    used = api.post("/api/auth/password-reset/confirm", json={"token": token, "newPassword": NEW_PASSWORD})
    assert used.status_code == 409
    bad = api.post("/api/auth/password-reset/confirm", json={"token": "nope", "newPassword": NEW_PASSWORD})
    assert bad.status_code == 404 and bad.json()["detail"]["reason"] == "invalid"
    assert api.post("/api/auth/login", json={"email": "user@example.com", "password": NEW_PASSWORD}).status_code == 200


def test_email_change_collision_at_confirm_time_is_409(api: TestClient, db: Session, make_user) -> None:
    make_user()
    auth = _login(api)
    resp = api.post("/api/profile/change-email/request", headers=auth,
                    json={"newEmail": "fresh@example.com", "currentPassword": PASSWORD})
    assert resp.status_code == 202, resp.text
    token = _token(db, "email_change_confirm")
    preview = api.get("/api/profile/actions/preview", params={"token": token}).json()
    assert preview["newEmailMasked"] == "f***@e***.com" and "fresh@example.com" not in str(preview)
    make_user("fresh@example.com")
    clash = api.post("/api/profile/actions/confirm", headers=auth, json={"token": token})
    assert clash.status_code == 409 and "already uses this email" in clash.json()["error"]
    assert api.get("/api/profile", headers=auth).json()["email"] == "user@example.com"


def test_confirm_by_get_for_scripts_and_wrong_user(api: TestClient, db: Session, make_user) -> None:
    make_user()
    make_user("other@example.com")
    auth, other = _login(api), _login(api, "other@example.com")
    assert api.post("/api/profile/export-data/request", headers=auth).status_code == 202
    token = _token(db, "data_export_confirm")
    foreign = api.get("/api/profile/actions/confirm", headers=other, params={"token": token})
    assert foreign.status_code == 403 and foreign.json()["detail"]["reason"] == "wrong_user"
    done = api.get("/api/profile/actions/confirm", params={"token": token})
    assert done.status_code == 200 and done.json()["type"] == "data_export"


def test_cookie_confirm_needs_the_csrf_header(api: TestClient, db: Session, make_user) -> None:
    make_user()
    auth = _login(api)
    api.post("/api/profile/export-data/request", headers=auth)
    token = _token(db, "data_export_confirm")
    api.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})  # sets the cookie
    assert api.post("/api/profile/actions/confirm", json={"token": token}).status_code == 403
    assert api.post("/api/profile/actions/confirm", headers=CSRF, json={"token": token}).status_code == 200


def test_delete_then_reactivate_over_http(api: TestClient, db: Session, make_user) -> None:
    make_user()
    auth = _login(api)
    assert api.post("/api/profile/delete-account/request", headers=auth,
                    json={"currentPassword": "wrong wrong wrong"}).status_code == 403
    assert api.post("/api/profile/delete-account/request", headers=auth,
                    json={"currentPassword": PASSWORD}).status_code == 202
    done = api.post("/api/profile/actions/confirm", headers=auth, json={"token": _token(db, "account_delete_confirm")})
    assert done.status_code == 200 and done.json()["signedOut"] is True
    assert api.get("/api/profile", headers=auth).status_code == 401
    login = api.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})
    assert login.status_code == 403 and "/reactivate" in login.json()["error"]

    answers = [api.post("/api/profile/reactivate/request", json={"email": e}).json()
               for e in ("user@example.com", "nobody@example.com")]
    assert answers[0] == answers[1]
    done = api.post("/api/profile/actions/confirm", json={"token": _token(db, "account_reactivate_confirm")})
    assert done.status_code == 200 and done.json()["type"] == "account_reactivate"
    assert api.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD}).status_code == 200
    db.expire_all()
    assert db.exec(select(User).where(User.email == "user@example.com")).one().status == "active"


def test_public_requests_are_rate_limited(api: TestClient, make_user) -> None:
    codes = [api.post("/api/auth/password-reset/request", json={"email": "x@example.com"}).status_code
             for _ in range(12)]
    assert codes[0] == 202 and codes[-1] == 429

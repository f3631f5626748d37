"""/api/waitlist: same join answer for everyone, confirm GET/POST, status by signed token, unsubscribe."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.db.models import OutboxMessage, WaitlistEntry


def _last_link(db: Session, to: str, key: str) -> str:
    db.expire_all()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == to).order_by(OutboxMessage.created_at.desc())).first()
    return mail.context[key]


def test_join_answers_the_same_for_new_and_existing_addresses(api: TestClient, make_user) -> None:
    make_user("member@example.com")
    a = api.post("/api/waitlist/join", json={"email": "member@example.com", "marketingConsent": True})
    b = api.post("/api/waitlist/join", json={"email": "new@example.com", "marketingConsent": True})
    c = api.post("/api/waitlist/join", json={"email": "new@example.com"})
    assert a.status_code == b.status_code == c.status_code == 202
    assert a.json() == b.json() == c.json()
    assert api.post("/api/waitlist/join", json={"email": "nope"}).status_code == 400


def test_confirm_status_and_unsubscribe(api: TestClient, db: Session) -> None:
    api.post("/api/waitlist/join", json={"email": "q@example.com", "marketingConsent": True})
    token = parse_qs(urlsplit(_last_link(db, "q@example.com", "confirm_url")).query)["token"][0]
    confirmed = api.post("/api/waitlist/confirm-email", json={"token": token})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "pending_admin_approval"
    again = api.get("/api/waitlist/confirm-email", params={"token": token})
    assert again.status_code == 403 and "error" in again.json()
    status = api.get("/api/waitlist/status", params={"token": confirmed.json()["statusToken"]}).json()
    assert status["status"] == "pending_admin_approval" and "q@" not in status["email"]
    assert api.get("/api/waitlist/status", params={"token": "forged.token"}).status_code == 404

    unsub = _last_link(db, "q@example.com", "unsubscribe_url")
    page = api.get(unsub)
    assert page.status_code == 200 and "<form" in page.text
    db.expire_all()
    assert db.exec(select(WaitlistEntry)).one().marketing_consent is True  # a GET (mail scanner) changes nothing
    unsub_token = parse_qs(urlsplit(unsub).query)["token"][0]
    assert api.post("/api/waitlist/unsubscribe", data={"token": unsub_token}).status_code == 200
    db.expire_all()
    assert db.exec(select(WaitlistEntry)).one().marketing_consent is False
    assert api.post("/api/waitlist/unsubscribe", json={"token": "bad.token"}).status_code == 404

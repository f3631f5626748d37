"""Issue 24 item 1: the inviter gets a durable, replayable `invitation.updated` event when an invitation is
revoked, accepted, expires, or moves from the waitlist to "link sent"; accepted and expired ring the bell."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select, update

from chat3d.db.models import OutboxMessage, RegistrationToken, Role, utcnow
from chat3d.domain.deletion import run_retention_once
from tests.conftest import PASSWORD


def _login(api: TestClient, email: str) -> dict[str, str]:
    token = api.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    return {"Authorization": f"Bearer {token}"}


def _link_token(db: Session, to: str, key: str) -> str:
    db.expire_all()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == to).order_by(OutboxMessage.created_at.desc())).first()
    return parse_qs(urlsplit(mail.context[key]).query)["token"][0]


def _invitation_events(api: TestClient, h: dict) -> list[tuple[str, str]]:
    items = api.get("/api/events/replay", params={"afterId": 0, "limit": 500}, headers=h).json()["items"]
    return [(e["payload"]["email"], e["payload"]["status"]) for e in items if e["type"] == "invitation.updated"]


def _bell(api: TestClient, h: dict) -> set[tuple[str, str]]:
    items = api.get("/api/notifications", headers=h).json()["items"]
    return {(n["payload"]["kind"], n["payload"]["body"]) for n in items}


def test_inviter_gets_events_for_revoke_accept_and_expiry(api: TestClient, db: Session, make_user) -> None:
    make_user("host@example.com")
    h = _login(api, "host@example.com")
    emails = ["gone@example.com", "joins@example.com", "late@example.com"]  # the default quota: 3
    assert api.post("/api/invitations", json={"emails": emails}, headers=h).status_code == 201
    ids = {i["email"]: i["id"] for i in api.get("/api/invitations", headers=h).json()["items"]}
    assert _invitation_events(api, h) == []

    assert api.delete(f"/api/invitations/{ids['gone@example.com']}", headers=h).status_code == 204
    token = _link_token(db, "joins@example.com", "register_url")
    registered = api.post("/api/auth/register", json={"email": "joins@example.com", "password": PASSWORD,
                                                       "registrationToken": token})
    assert registered.status_code == 201
    api.cookies.clear()
    db.exec(update(RegistrationToken).where(RegistrationToken.email == "late@example.com")
            .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    run_retention_once()  # the worker's sweep notices expired links without anyone opening the page
    assert api.get("/api/invitations", headers=h).status_code == 200  # and a read records nothing twice

    assert sorted(_invitation_events(api, h)) == sorted([
        ("gone@example.com", "revoked"), ("joins@example.com", "accepted"),
        ("late@example.com", "expired")])
    assert _bell(api, h) == {("invitation.accepted", "joins@example.com"), ("invitation.expired", "late@example.com")}


def test_waitlisted_invitation_moving_to_link_sent_is_an_event(api: TestClient, db: Session, make_user) -> None:
    make_user("boss@example.com", role=Role.admin.value)
    make_user("host@example.com")
    admin = _login(api, "boss@example.com")
    assert api.patch("/api/admin/settings", json={"invitationWaitlistRequired": True}, headers=admin).status_code == 200
    h = _login(api, "host@example.com")
    assert api.post("/api/invitations", json={"emails": ["w@example.com"]}, headers=h).status_code == 201
    confirmed = api.post("/api/waitlist/confirm-email", json={"token": _link_token(db, "w@example.com", "confirm_url")})
    assert confirmed.status_code == 200
    entry_id = api.get("/api/admin/waitlist", headers=admin).json()["items"][0]["id"]
    assert api.patch(f"/api/admin/waitlist/{entry_id}/approve", headers=admin).status_code == 200
    assert _invitation_events(api, h) == [("w@example.com", "registration_sent")]
    assert api.get("/api/invitations", headers=h).json()["items"][0]["status"] == "registration_sent"

"""Issue 24 item 2: consumed waitlist-confirmation and registration tokens, and attempts with forged, expired or
reused ones, leave a security event naming the reason, and never the token value."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select, update

from chat3d.db.models import (
    OutboxMessage,
    RegistrationToken,
    SecurityEvent,
    TokenSource,
    WaitlistConfirmationToken,
    utcnow,
)
from chat3d.domain.registration import issue_registration_token
from tests.conftest import PASSWORD


def _link_token(db: Session, to: str, key: str) -> str:
    db.expire_all()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == to).order_by(OutboxMessage.created_at.desc())).first()
    return parse_qs(urlsplit(mail.context[key]).query)["token"][0]


def _events(db: Session, prefix: str) -> list[SecurityEvent]:
    db.expire_all()
    rows = db.exec(select(SecurityEvent).order_by(SecurityEvent.created_at)).all()
    return [r for r in rows if r.event_type.startswith(prefix)]


def _no_token_in(rows: list[SecurityEvent], *tokens: str) -> None:
    text = json.dumps([[r.event_type, r.email, r.details] for r in rows])
    for token in tokens:
        assert token not in text


def test_waitlist_confirmation_tokens_are_audited(api: TestClient, db: Session) -> None:
    api.post("/api/waitlist/join", json={"email": "w@example.com"})
    token = _link_token(db, "w@example.com", "confirm_url")
    assert api.post("/api/waitlist/confirm-email", json={"token": token}).status_code == 200
    assert api.post("/api/waitlist/confirm-email", json={"token": token}).status_code == 403  # reused
    assert api.post("/api/waitlist/confirm-email", json={"token": "forged-" + "x" * 30}).status_code == 403
    api.post("/api/waitlist/join", json={"email": "late@example.com"})
    late = _link_token(db, "late@example.com", "confirm_url")
    db.exec(update(WaitlistConfirmationToken).values(expires_at=utcnow() - timedelta(minutes=1))
            .where(WaitlistConfirmationToken.consumed_at.is_(None)))
    db.commit()
    assert api.get("/api/waitlist/confirm-email", params={"token": late}).status_code == 403

    rows = _events(db, "waitlist_token.")
    assert [(r.event_type, r.email) for r in rows if r.event_type.endswith("consumed")] == [
        ("waitlist_token.consumed", "w@example.com")]
    refused = {(r.email, r.details["reason"]) for r in rows if r.event_type == "waitlist_token.refused"}
    assert refused == {("w@example.com", "reused"), (None, "unknown token"), ("late@example.com", "expired")}
    assert all(r.ip for r in rows)
    _no_token_in(rows, token, late)


def test_registration_tokens_are_audited(api: TestClient, db: Session) -> None:
    good = issue_registration_token(db, "n@example.com", TokenSource.admin_invite)
    stale = issue_registration_token(db, "s@example.com", TokenSource.admin_invite)
    db.exec(update(RegistrationToken).where(RegistrationToken.email == "s@example.com")
            .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    body = {"password": PASSWORD, "displayName": "N"}
    assert api.post("/api/auth/register", json={**body, "email": "n@example.com", "registrationToken": good}).status_code == 201
    api.cookies.clear()
    assert api.post("/api/auth/register", json={**body, "email": "m@example.com", "registrationToken": good}).status_code == 403
    assert api.post("/api/auth/register", json={**body, "email": "s@example.com", "registrationToken": stale}).status_code == 403
    assert api.post("/api/auth/register",
                    json={**body, "email": "f@example.com", "registrationToken": "forged-" + "y" * 30}).status_code == 403

    rows = _events(db, "registration_token.")
    consumed = [r for r in rows if r.event_type == "registration_token.consumed"]
    assert [r.email for r in consumed] == ["n@example.com"] and consumed[0].details["tokenId"]
    refused = {(r.email, r.details["reason"]) for r in rows if r.event_type == "registration_token.refused"}
    assert refused == {("m@example.com", "reused"), ("s@example.com", "expired"), ("f@example.com", "unknown token")}
    _no_token_in(rows, good, stale)

"""Registration: open while the waitlist is off; with it on, only with a valid token bound to the email."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, delete, select

from chat3d.db.engine import get_engine
from chat3d.db.models import AppSettings, Invitation, InvitationStatus, OutboxMessage, RegistrationToken, User
from chat3d.domain.auth import authenticate
from chat3d.domain.errors import Conflict, DomainError, Forbidden, InvalidInput
from chat3d.domain.registration import issue_registration_token, register
from chat3d.domain.sessions import user_from_token
from chat3d.domain.tokens import hash_token
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD


def _waitlist(db: Session, enabled: bool) -> None:
    row = db.get(AppSettings, 1)
    row.waitlist_enabled = enabled
    db.add(row)
    db.commit()


def test_open_registration_mails_a_link_that_activates_the_account(db: Session) -> None:
    from urllib.parse import parse_qs, urlsplit

    from chat3d.domain.account_actions import confirm_action

    assert register(db, "  New@Example.COM ", PASSWORD, "Nina", ip="10.0.0.1") == (None, None)
    db.commit()
    pending = db.exec(select(User)).one()
    assert (pending.status, pending.password_hash) == ("pending_registration", "!")  # no password matches it yet
    link = db.exec(select(OutboxMessage)).one()
    assert (link.to_email, link.template) == ("new@example.com", "registration_confirm") and "Nina" not in link.subject
    confirm_action(db, parse_qs(urlsplit(link.context["link"]).query)["token"][0])
    db.commit()
    db.exec(delete(OutboxMessage).where(OutboxMessage.template == "registration_confirm"))
    token, user = authenticate(db, "new@example.com", PASSWORD)
    db.commit()
    assert (user.email, user.role, user.status, user.display_name) == ("new@example.com", "user", "active", "Nina")
    assert user.password_hash and user.password_hash != PASSWORD
    assert user_from_token(db, token).id == user.id
    mail = db.exec(select(OutboxMessage)).one()
    assert (mail.to_email, mail.template, mail.subject, mail.user_id) == ("new@example.com", "welcome", "Welcome to Chat3D", user.id)


def test_duplicate_email_and_bad_input_are_refused(db: Session, make_user, monkeypatch) -> None:
    make_user("a@example.com")
    # Open registration answers the same for a taken address (tests/security/test_accounts.py); with
    # verification off (closed deployments) a taken address is refused.
    assert register(db, "A@example.com", PASSWORD) == (None, None)
    db.rollback()
    monkeypatch.setenv("REGISTRATION_EMAIL_VERIFICATION", "false")
    reset_settings_cache()
    with pytest.raises(Conflict):
        register(db, "A@example.com", PASSWORD)
    db.rollback()
    with pytest.raises(InvalidInput):
        register(db, "not-an-email", PASSWORD)
    with pytest.raises(InvalidInput):
        register(db, "b@example.com", "password1")


def test_waitlist_requires_a_token_for_this_email(db: Session) -> None:
    _waitlist(db, True)
    with pytest.raises(Forbidden):
        register(db, "a@example.com", PASSWORD)
    db.rollback()
    for_other = issue_registration_token(db, "other@example.com", "waitlist")
    db.commit()
    with pytest.raises(Forbidden):
        register(db, "a@example.com", PASSWORD, registration_token=for_other)
    db.rollback()
    raw = issue_registration_token(db, "A@Example.com", "waitlist")
    db.commit()
    _, user = register(db, "a@example.com", PASSWORD, registration_token=raw)
    db.commit()
    assert user.email == "a@example.com"
    stored = db.exec(select(RegistrationToken).where(RegistrationToken.token_hash == hash_token(raw))).one()
    assert stored.token_hash != raw and stored.used_count == 1 and stored.consumed_at is not None


def test_expired_revoked_and_reused_tokens_are_refused(db: Session) -> None:
    _waitlist(db, True)
    expired = issue_registration_token(db, "a@example.com", "admin_invite", ttl=timedelta(seconds=-1))
    revoked = issue_registration_token(db, "a@example.com", "admin_invite")
    row = db.exec(select(RegistrationToken).where(RegistrationToken.token_hash == hash_token(revoked))).one()
    row.revoked_at = row.created_at
    db.commit()
    for raw in (expired, revoked, "no-such-token"):
        with pytest.raises(Forbidden):
            register(db, "a@example.com", PASSWORD, registration_token=raw)
        db.rollback()

    once = issue_registration_token(db, "b@example.com", "admin_invite")
    db.commit()
    register(db, "b@example.com", PASSWORD, registration_token=once)
    db.commit()
    db.delete(db.exec(select(User).where(User.email == "b@example.com")).one())
    db.commit()
    with pytest.raises(Forbidden):  # the account is gone, the token stays used
        register(db, "b@example.com", PASSWORD, registration_token=once)


def test_token_given_while_waitlist_is_off_is_consumed_and_accepts_the_invitation(db: Session, make_user) -> None:
    inviter = make_user("inviter@example.com")
    raw = issue_registration_token(db, "friend@example.com", "user_invite", invited_by=inviter.id)
    token_row = db.exec(select(RegistrationToken)).one()
    invitation = Invitation(inviter_id=inviter.id, email="friend@example.com", status=InvitationStatus.registration_sent.value,
                            registration_token_id=token_row.id)
    db.add(invitation)
    db.commit()
    register(db, "friend@example.com", PASSWORD, registration_token=raw)
    db.commit()
    db.refresh(invitation)
    db.refresh(token_row)
    assert invitation.status == "accepted"
    assert token_row.used_count == 1


def test_fifty_parallel_registrations_with_one_token_make_one_account(db: Session) -> None:
    _waitlist(db, True)
    raw = issue_registration_token(db, "race@example.com", "waitlist")
    db.commit()
    outcomes: list[str] = []
    barrier = threading.Barrier(50)

    def attempt(i: int) -> None:
        with Session(get_engine()) as own:
            barrier.wait()
            try:
                register(own, "race@example.com", PASSWORD, registration_token=raw, ip=f"10.1.0.{i}")
                own.commit()
                outcomes.append("created")
            except DomainError as exc:
                own.rollback()
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Counter(outcomes) == {"created": 1, "Forbidden": 49}
    assert len(db.exec(select(User).where(User.email == "race@example.com")).all()) == 1
    assert db.exec(select(RegistrationToken)).one().used_count == 1

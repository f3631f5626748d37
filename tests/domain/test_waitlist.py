"""Waitlist: double opt-in, admin approval or rejection, registration gating, re-joins, status, unsubscribe."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select

from chat3d.db.models import AppSettings, OutboxMessage, RegistrationToken, User, WaitlistEntry, WaitlistStatus
from chat3d.domain import waitlist
from chat3d.domain.errors import Conflict, Forbidden, NotFound
from chat3d.domain.registration import register
from tests.conftest import PASSWORD


def _waitlist_on(db: Session) -> None:
    row = db.get(AppSettings, 1)
    row.waitlist_enabled = True
    db.add(row)
    db.commit()


def _mails(db: Session, to: str) -> list[OutboxMessage]:
    return list(db.exec(select(OutboxMessage).where(OutboxMessage.to_email == to).order_by(OutboxMessage.created_at)).all())


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _entry(db: Session, email: str) -> WaitlistEntry:
    db.expire_all()
    return db.exec(select(WaitlistEntry).where(WaitlistEntry.email == email)).one()


@pytest.fixture
def admin(make_user) -> User:
    return make_user("root@example.com", role="admin")


def _join_and_confirm(db: Session, email: str, consent: bool = False) -> WaitlistEntry:
    waitlist.join_waitlist(db, email, consent)
    db.commit()
    raw = _token(_mails(db, email)[-1].context["confirm_url"])
    entry = waitlist.confirm_email(db, raw)
    db.commit()
    return entry


def test_join_sends_a_24h_single_use_link_storing_only_its_hash(db: Session) -> None:
    waitlist.join_waitlist(db, " New@Example.com ", True)
    db.commit()
    (mail,) = _mails(db, "new@example.com")
    assert mail.template == "waitlist_confirm" and "/waitlist/confirm?token=" in mail.context["confirm_url"]
    assert mail.context["marketing"] is True and "/api/waitlist/unsubscribe?token=" in mail.context["unsubscribe_url"]
    raw = _token(mail.context["confirm_url"])
    stored = db.exec(select(waitlist.WaitlistConfirmationToken)).one()
    assert stored.token_hash != raw and len(stored.token_hash) == 64
    assert 23.9 * 3600 < (stored.expires_at - stored.created_at).total_seconds() <= 24 * 3600
    # A GET-style preview changes nothing; confirming moves the entry on, and the link works once.
    assert waitlist.entry_for_confirmation(db, raw).status == WaitlistStatus.pending_email_confirmation.value
    assert waitlist.confirm_email(db, raw).status == WaitlistStatus.pending_admin_approval.value
    db.commit()
    with pytest.raises(Forbidden):
        waitlist.confirm_email(db, raw)


def test_waitlisted_user_cannot_register_before_approval_then_registers_exactly_once(db: Session, admin: User) -> None:
    _waitlist_on(db)
    entry = _join_and_confirm(db, "wait@example.com")
    with pytest.raises(Forbidden):
        register(db, "wait@example.com", PASSWORD)
    db.rollback()
    waitlist.approve_entry(db, admin, entry.id, ip="10.0.0.9")
    db.commit()
    mail = _mails(db, "wait@example.com")[-1]
    assert mail.template == "waitlist_approved" and "/register?token=" in mail.context["register_url"]
    token = db.exec(select(RegistrationToken)).one()
    assert (token.source, token.waitlist_entry_id, round((token.expires_at - token.created_at).total_seconds() / 86400)) == ("waitlist", entry.id, 7)
    raw = _token(mail.context["register_url"])
    _, user = register(db, "wait@example.com", PASSWORD, registration_token=raw)
    db.commit()
    assert user.email == "wait@example.com"
    with pytest.raises(Forbidden):
        register(db, "wait@example.com", PASSWORD, registration_token=raw)
    db.rollback()
    with pytest.raises(Conflict):  # an approved entry cannot be approved (and so tokened) twice
        waitlist.approve_entry(db, admin, entry.id)


def test_rejected_entry_cannot_register_and_gets_a_polite_mail(db: Session, admin: User) -> None:
    _waitlist_on(db)
    entry = _join_and_confirm(db, "no@example.com")
    waitlist.reject_entry(db, admin, entry.id)
    db.commit()
    assert _mails(db, "no@example.com")[-1].template == "waitlist_rejected"
    assert db.exec(select(RegistrationToken)).first() is None
    with pytest.raises(Forbidden):
        register(db, "no@example.com", PASSWORD)
    db.rollback()
    with pytest.raises(Conflict):
        waitlist.approve_entry(db, admin, entry.id)


def test_rejoin_resends_while_pending_and_never_resets_a_decided_entry(db: Session, admin: User) -> None:
    waitlist.join_waitlist(db, "again@example.com")
    waitlist.join_waitlist(db, "again@example.com")
    db.commit()
    assert [m.template for m in _mails(db, "again@example.com")] == ["waitlist_confirm", "waitlist_confirm"]
    raw = _token(_mails(db, "again@example.com")[-1].context["confirm_url"])
    waitlist.confirm_email(db, raw)
    waitlist.approve_entry(db, admin, _entry(db, "again@example.com").id)
    db.commit()
    waitlist.join_waitlist(db, "again@example.com", True)
    db.commit()
    entry = _entry(db, "again@example.com")
    assert entry.status == WaitlistStatus.approved.value and entry.approved_by == admin.id
    assert _mails(db, "again@example.com")[-1].template == "waitlist_status"


def test_join_reveals_nothing_about_existing_accounts(db: Session, make_user) -> None:
    make_user("member@example.com")
    assert waitlist.join_waitlist(db, "member@example.com", True) is None
    assert waitlist.join_waitlist(db, "stranger@example.com", True) is None
    db.commit()
    assert db.exec(select(WaitlistEntry).where(WaitlistEntry.email == "member@example.com")).first() is None
    (notice,) = _mails(db, "member@example.com")
    assert notice.template == "waitlist_account_exists" and "token" not in str(notice.context)


def test_status_link_is_signed_and_unsubscribe_withdraws_consent(db: Session, make_user) -> None:
    entry = _join_and_confirm(db, "news@example.com", consent=True)
    view = waitlist.status_view(waitlist.entry_from_status_token(db, waitlist.status_token(entry)))
    assert view.status == "pending_admin_approval" and view.email.endswith("@example.com") and "news" not in view.email
    for bad in ("", "abc", waitlist.status_token(entry)[:-2] + "xx", waitlist.unsubscribe_token("news@example.com")):
        with pytest.raises(NotFound):
            waitlist.entry_from_status_token(db, bad)
    make_user("news@example.com", marketing_consent=True)
    assert waitlist.withdraw_marketing_consent(db, waitlist.unsubscribe_token("news@example.com")) == "news@example.com"
    db.commit()
    db.expire_all()
    assert _entry(db, "news@example.com").marketing_consent is False
    assert db.exec(select(User).where(User.email == "news@example.com")).one().marketing_consent is False


def test_bulk_approve_skips_what_is_not_waiting(db: Session, admin: User) -> None:
    a = _join_and_confirm(db, "a@example.com")
    b = _join_and_confirm(db, "b@example.com")
    waitlist.join_waitlist(db, "c@example.com")
    db.commit()
    c = _entry(db, "c@example.com")
    result = waitlist.bulk_approve(db, admin, [a.id, b.id, c.id])
    db.commit()
    assert set(result.approved) == {a.id, b.id} and [s["id"] for s in result.skipped] == [str(c.id)]
    assert len(db.exec(select(RegistrationToken)).all()) == 2

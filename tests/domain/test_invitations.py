"""Invitations: quota (also under 20 parallel requests), all-or-nothing batches, both policy modes, revocation."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select, update

from chat3d.db.engine import get_engine
from chat3d.db.models import (
    AppSettings,
    Invitation,
    InvitationSend,
    InvitationStatus,
    OutboxMessage,
    RegistrationToken,
    User,
    WaitlistEntry,
    WaitlistStatus,
)
from chat3d.domain import invitations, waitlist
from chat3d.domain.errors import Conflict, DomainError, Forbidden, InvalidInput
from chat3d.domain.registration import register
from tests.conftest import PASSWORD


def _policy(db: Session, **values) -> None:
    row = db.get(AppSettings, 1)
    for k, v in values.items():
        setattr(row, k, v)
    db.add(row)
    db.commit()


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _mails(db: Session, to: str) -> list[OutboxMessage]:
    return list(db.exec(select(OutboxMessage).where(OutboxMessage.to_email == to).order_by(OutboxMessage.created_at)).all())


@pytest.fixture
def inviter(make_user) -> User:
    return make_user("host@example.com", display_name="Hosta")


def test_direct_mode_mails_a_registration_link_and_acceptance_is_tracked(db: Session, inviter: User) -> None:
    _policy(db, waitlist_enabled=True)
    (inv,) = invitations.create_invitations(db, inviter, ["Friend@Example.com"])
    db.commit()
    assert inv.status == InvitationStatus.registration_sent.value
    (mail,) = _mails(db, "friend@example.com")
    assert mail.template == "invitation" and mail.context["inviter_name"] == "Hosta"
    token = db.get(RegistrationToken, inv.registration_token_id)
    assert (token.source, token.invited_by) == ("user_invite", inviter.id)
    register(db, "friend@example.com", PASSWORD, registration_token=_token(mail.context["register_url"]))
    db.commit()
    db.refresh(inv)
    assert inv.status == InvitationStatus.accepted.value
    assert invitations.usage(db, inviter).used == 1  # the quota counts mails sent, accepted or not


def test_waitlist_mode_sends_an_opt_in_link_and_follows_the_admin_decision(db: Session, inviter: User, make_user) -> None:
    admin = make_user("root@example.com", role="admin")
    _policy(db, waitlist_enabled=True, invitation_waitlist_required=True)
    (inv,) = invitations.create_invitations(db, inviter, ["pal@example.com"])
    db.commit()
    assert inv.status == InvitationStatus.waitlisted.value and inv.registration_token_id is None
    (mail,) = _mails(db, "pal@example.com")
    assert mail.template == "invitation_waitlist" and "/waitlist/confirm?token=" in mail.context["confirm_url"]
    entry = waitlist.confirm_email(db, _token(mail.context["confirm_url"]))
    db.commit()
    assert (entry.status, entry.invited_by) == (WaitlistStatus.pending_admin_approval.value, inviter.id)
    waitlist.approve_entry(db, admin, entry.id)
    db.commit()
    db.refresh(inv)
    assert inv.status == InvitationStatus.registration_sent.value and inv.registration_token_id is not None
    register(db, "pal@example.com", PASSWORD, registration_token=_token(_mails(db, "pal@example.com")[-1].context["register_url"]))
    db.commit()
    db.refresh(inv)
    assert inv.status == InvitationStatus.accepted.value


def test_quota_batches_self_and_duplicates(db: Session, inviter: User) -> None:
    _policy(db, invitation_quota_per_user=3)
    invitations.create_invitations(db, inviter, ["a@example.com", "b@example.com"])
    db.commit()
    with pytest.raises(Conflict):  # 2 + 2 > 3: nothing of the batch is kept
        invitations.create_invitations(db, inviter, ["c@example.com", "d@example.com"])
    db.rollback()
    assert len(db.exec(select(Invitation)).all()) == 2 and not _mails(db, "c@example.com")
    with pytest.raises(InvalidInput):
        invitations.create_invitations(db, inviter, ["host@example.com"])
    with pytest.raises(InvalidInput):
        invitations.create_invitations(db, inviter, ["ok@example.com", "not an email"])
    with pytest.raises(Conflict):
        invitations.create_invitations(db, inviter, ["A@example.com"])
    db.rollback()
    u = invitations.usage(db, inviter)
    assert (u.used, u.quota) == (2, 3)
    _policy(db, invitations_enabled=False)
    with pytest.raises(Forbidden):
        invitations.create_invitations(db, inviter, ["e@example.com"])


def test_inviting_an_existing_account_looks_the_same_but_sends_nothing(db: Session, inviter: User, make_user) -> None:
    make_user("member@example.com")
    rows = invitations.create_invitations(db, inviter, ["member@example.com", "new@example.com"])
    db.commit()
    assert [r.status for r in rows] == [InvitationStatus.registration_sent.value] * 2
    assert _mails(db, "member@example.com") == [] and len(_mails(db, "new@example.com")) == 1


def test_revoked_invitation_link_is_refused_in_both_modes(db: Session, inviter: User) -> None:
    _policy(db, waitlist_enabled=True)
    (inv,) = invitations.create_invitations(db, inviter, ["x@example.com"])
    db.commit()
    raw = _token(_mails(db, "x@example.com")[-1].context["register_url"])
    invitations.revoke_invitation(db, inviter, inv.id)
    db.commit()
    assert db.get(RegistrationToken, inv.registration_token_id).revoked_at is not None
    assert inv.status == InvitationStatus.revoked.value
    with pytest.raises(Forbidden):
        register(db, "x@example.com", PASSWORD, registration_token=raw)
    db.rollback()
    with pytest.raises(Conflict):
        invitations.revoke_invitation(db, inviter, inv.id)
    db.rollback()
    # Re-inviting after a revocation reuses the row with a fresh link (a day later: one mail per address per day).
    db.exec(update(InvitationSend).values(sent_at=InvitationSend.sent_at - timedelta(days=1)))
    (again,) = invitations.create_invitations(db, inviter, ["x@example.com"])
    db.commit()
    assert again.id == inv.id and again.status == InvitationStatus.registration_sent.value

    _policy(db, invitation_waitlist_required=True)
    (wl,) = invitations.create_invitations(db, inviter, ["y@example.com"])
    db.commit()
    confirm = _token(_mails(db, "y@example.com")[-1].context["confirm_url"])
    invitations.revoke_invitation(db, inviter, wl.id)
    db.commit()
    with pytest.raises(Forbidden):
        waitlist.confirm_email(db, confirm)


def test_someone_elses_invitation_is_not_found(db: Session, inviter: User, make_user) -> None:
    other = make_user("other@example.com")
    (inv,) = invitations.create_invitations(db, inviter, ["z@example.com"])
    db.commit()
    with pytest.raises(DomainError) as err:
        invitations.revoke_invitation(db, other, inv.id)
    assert err.value.status == 404


def test_admin_invites_are_not_quota_bound(db: Session, make_user) -> None:
    admin = make_user("root@example.com", role="admin")
    _policy(db, invitation_quota_per_user=0, invitation_waitlist_required=True)
    rows = invitations.create_invitations(db, admin, [f"p{i}@example.com" for i in range(3)])
    db.commit()
    token = db.get(RegistrationToken, rows[0].registration_token_id)
    assert token.source == "admin_invite" and len(rows) == 3


def test_quota_holds_under_20_parallel_requests(db: Session, inviter: User) -> None:
    _policy(db, invitation_quota_per_user=5)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def invite(i: int) -> None:
        with Session(get_engine(), expire_on_commit=False) as s:
            me = s.get(User, inviter.id)
            barrier.wait()
            try:
                invitations.create_invitations(s, me, [f"guest{i}@example.com"])
                s.commit()
                result = "ok"
            except Conflict:
                s.rollback()
                result = "quota"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=invite, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes).count("ok") == 5 and outcomes.count("quota") == 15
    db.expire_all()
    assert len(db.exec(select(Invitation).where(Invitation.inviter_id == inviter.id)).all()) == 5
    assert len(db.exec(select(WaitlistEntry)).all()) == 0

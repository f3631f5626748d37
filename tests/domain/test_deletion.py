"""The deletion worker: due accounts vanish with their data, audit rows stay anonymised, nothing else moves."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from chat3d.db.models import (
    AccountAction,
    AdminAuditLog,
    ChatContext,
    ChatItem,
    Invitation,
    Notification,
    OutboxMessage,
    SecurityEvent,
    StoredFile,
    User,
    UserSession,
    UserStatus,
    WaitlistEntry,
    utcnow,
)
from chat3d.domain import account_actions as aa
from chat3d.domain import files
from chat3d.domain.auth import authenticate
from chat3d.domain.deletion import purge_due_accounts, run_retention_once
from chat3d.domain.security_events import record_security_event
from chat3d.domain.sessions import start_session
from tests.conftest import PASSWORD
from tests.domain.test_account_actions import _self_delete, token_from
from tests.domain.test_export import make_content


def _world(db: Session, make_user):
    """A due self-deleted admin with content, invitations and audit entries; a second user; a bystander."""
    doomed = make_user("doomed@example.com", role="admin")
    make_user("admin2@example.com", role="admin")  # so the doomed admin is not the last one
    bystander = make_user("bystander@example.com")
    made = {u.email: make_content(db, u, u.email.split("@")[0], n_chats=1) for u in (doomed, bystander)}
    db.add(Invitation(inviter_id=doomed.id, email="friend@example.com"))
    db.add(Invitation(inviter_id=bystander.id, email="pal@example.com"))
    db.add(WaitlistEntry(email="doomed@example.com"))
    db.add(AdminAuditLog(actor_id=doomed.id, action="user.suspend", target_type="user", target_id=str(bystander.id),
                         details={"email": "bystander@example.com", "by": "doomed@example.com"}))
    db.add(AdminAuditLog(actor_id=bystander.id, action="user.note", target_type="user", target_id=str(doomed.id),
                         details={"email": "doomed@example.com"}))
    start_session(db, doomed, ip=None, user_agent=None)
    start_session(db, bystander, ip=None, user_agent=None)
    db.commit()
    record_security_event(db, "login.failed", user_id=doomed.id, email="doomed@example.com")
    record_security_event(db, "login.failed", user_id=bystander.id, email="bystander@example.com")
    _self_delete(db, doomed)
    doomed = db.get(User, doomed.id)
    doomed.deactivated_until = utcnow() - timedelta(minutes=1)
    db.add(doomed)
    db.commit()
    return doomed, bystander, made


def _count(db: Session, model, *where) -> int:
    return len(db.exec(select(model).where(*where)).all())


def test_due_account_is_deleted_with_its_data_and_the_rest_is_untouched(db: Session, make_user) -> None:
    doomed, bystander, made = _world(db, make_user)
    doomed_paths = [files.absolute_path(f) for f in db.exec(select(StoredFile).where(StoredFile.owner_id == doomed.id))]
    bystander_paths = [files.absolute_path(f) for f in db.exec(select(StoredFile).where(StoredFile.owner_id == bystander.id))]
    assert doomed_paths and all(p.exists() for p in doomed_paths)
    before = {m.__name__: _count(db, m, m.owner_id == bystander.id) for m in (ChatContext, ChatItem, StoredFile)}

    uid = doomed.id
    report = purge_due_accounts()
    assert report.users == 1 and report.chats == 1 and report.files == len(doomed_paths)
    assert report.files_removed_from_disk == len(doomed_paths)
    db.expire_all()
    assert db.get(User, uid) is None
    for model, column in ((ChatContext, ChatContext.owner_id), (ChatItem, ChatItem.owner_id),
                          (StoredFile, StoredFile.owner_id), (Notification, Notification.user_id),
                          (AccountAction, AccountAction.user_id), (UserSession, UserSession.user_id),
                          (Invitation, Invitation.inviter_id)):
        assert _count(db, model, column == uid) == 0, model.__name__
    assert not any(p.exists() for p in doomed_paths)
    assert not (files.storage().root / str(uid)).exists()
    assert _count(db, WaitlistEntry, WaitlistEntry.email == "doomed@example.com") == 0
    assert _count(db, OutboxMessage, OutboxMessage.to_email == "doomed@example.com") == 0

    # Audit rows stay, without the deleted user's email or id.
    text = " ".join(str((e.user_id, e.email, e.details)) for e in db.exec(select(SecurityEvent)).all())
    text += " ".join(str((a.actor_id, a.target_id, a.details)) for a in db.exec(select(AdminAuditLog)).all())
    assert "doomed@example.com" not in text and str(uid) not in text
    assert _count(db, AdminAuditLog) == 2
    assert db.exec(select(AdminAuditLog).where(AdminAuditLog.action == "user.suspend")).one().details["email"] == \
        "bystander@example.com"
    assert _count(db, SecurityEvent, SecurityEvent.email == "bystander@example.com") >= 1

    # Everyone else is exactly as before.
    assert db.get(User, bystander.id).status == UserStatus.active.value
    assert before == {m.__name__: _count(db, m, m.owner_id == bystander.id) for m in (ChatContext, ChatItem, StoredFile)}
    assert all(p.exists() for p in bystander_paths)
    assert _count(db, Invitation, Invitation.inviter_id == bystander.id) == 1
    assert _count(db, UserSession, UserSession.user_id == bystander.id) == 1

    second = purge_due_accounts()
    assert second.users == 0 and second.files == 0


def test_not_yet_due_and_suspended_accounts_are_untouched(db: Session, make_user) -> None:
    waiting = make_user("waiting@example.com")
    make_content(db, waiting, "waiting", n_chats=1)
    _self_delete(db, waiting)
    suspended = make_user("suspended@example.com", status=UserStatus.deactivated.value, deactivation_reason="abuse")
    waiting_id, suspended_id = waiting.id, suspended.id
    run_retention_once()
    db.expire_all()
    assert db.get(User, waiting_id).status == "deactivated"
    assert db.get(User, suspended_id) is not None
    assert _count(db, ChatItem, ChatItem.owner_id == waiting_id) == 2
    # Even far in the future a suspension (no deactivated_until) is never purged; the self-deletion is.
    report = purge_due_accounts(now=utcnow() + timedelta(days=31))
    assert report.user_ids == [waiting_id]
    db.expire_all()
    assert db.get(User, suspended_id) is not None


def test_reactivation_inside_the_window_restores_access_with_data_intact(db: Session, make_user) -> None:
    user = make_user()
    made = make_content(db, user, "keeper", n_chats=2)
    _self_delete(db, user)
    aa.request_reactivation(db, user.email)
    db.commit()
    aa.confirm_action(db, token_from(db, "account_reactivate_confirm"))
    db.commit()
    token, again = authenticate(db, user.email, PASSWORD)
    db.commit()
    assert token and again.status == "active" and again.deactivated_until is None
    assert _count(db, ChatItem, ChatItem.owner_id == user.id) == 4
    stored = db.exec(select(StoredFile).where(StoredFile.owner_id == user.id)).all()
    assert {str(f.id) for f in stored} == set(made["files"])
    assert all(files.absolute_path(f).read_bytes() == made["files"][str(f.id)] for f in stored)
    assert purge_due_accounts(now=utcnow() + timedelta(days=60)).users == 0

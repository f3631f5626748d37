"""Email-confirmed account actions: each one's happy path, and used, expired, cancelled and foreign tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select

from chat3d.db.models import (
    AccountAction,
    ActionStatus,
    Notification,
    OutboxMessage,
    SecurityEvent,
    User,
    UserSession,
    UserStatus,
    utcnow,
)
from chat3d.domain import account_actions as aa
from chat3d.domain.auth import authenticate
from chat3d.domain.errors import Conflict, Forbidden, InvalidInput
from chat3d.domain.passwords import verify_password
from chat3d.domain.sessions import start_session
from chat3d.domain.tokens import hash_token
from chat3d.events.types import ACCOUNT_STATUS_CHANGED
from tests.conftest import PASSWORD

NEW_PASSWORD = "a brand new passphrase"


def token_from(db: Session, template: str, to: str | None = None) -> str:
    query = select(OutboxMessage).where(OutboxMessage.template == template)
    if to:
        query = query.where(OutboxMessage.to_email == to)
    mail = db.exec(query.order_by(OutboxMessage.created_at.desc())).first()
    assert mail is not None, f"no {template} mail"
    return parse_qs(urlsplit(mail.context["link"]).query)["token"][0]


def _reload(db: Session, user: User) -> User:
    db.expire_all()
    return db.get(User, user.id)


# Each action kind: (request it for `user`, confirm `token` as `signed_in`, check that it applied).
def _pw_request(db, user):
    aa.request_password_change(db, user, PASSWORD, NEW_PASSWORD)
    db.commit()
    return token_from(db, "password_change_confirm")


def _pw_confirm(db, token, signed_in=None):
    return aa.confirm_action(db, token, signed_in=signed_in)


def _pw_applied(db, user):
    return verify_password(NEW_PASSWORD, _reload(db, user).password_hash)


def _reset_request(db, user):
    aa.request_password_reset(db, user)
    db.commit()
    return token_from(db, "password_reset")


def _reset_confirm(db, token, signed_in=None):
    return aa.confirm_password_reset(db, token, NEW_PASSWORD, signed_in=signed_in)


def _email_request(db, user):
    aa.request_email_change(db, user, "new-address@example.com", PASSWORD)
    db.commit()
    return token_from(db, "email_change_confirm")


def _email_applied(db, user):
    return _reload(db, user).email == "new-address@example.com"


def _export_request(db, user):
    aa.request_data_export(db, user)
    db.commit()
    return token_from(db, "data_export_confirm")


def _export_applied(db, user):
    row = db.exec(select(AccountAction).where(AccountAction.user_id == user.id, AccountAction.type == "data_export",
                                              AccountAction.status == "completed")).first()
    return row is not None and row.payload.get("export_state") == "queued"


def _delete_request(db, user):
    aa.request_account_deletion(db, user, PASSWORD)
    db.commit()
    return token_from(db, "account_delete_confirm")


def _delete_applied(db, user):
    u = _reload(db, user)
    return u.status == "deactivated" and u.deactivation_reason == "self_deletion" and u.deactivated_until is not None


def _self_delete(db, user):
    token = _delete_request(db, user)
    aa.confirm_action(db, token)
    db.commit()


def _reactivate_request(db, user):
    if _reload(db, user).status == "active":
        _self_delete(db, user)
    aa.request_reactivation(db, user.email)
    db.commit()
    return token_from(db, "account_reactivate_confirm")


def _reactivate_applied(db, user):
    u = _reload(db, user)
    return u.status == "active" and u.deactivated_until is None


KINDS: dict[str, tuple[Callable, Callable, Callable]] = {
    "password_change": (_pw_request, _pw_confirm, _pw_applied),
    "password_reset": (_reset_request, _reset_confirm, _pw_applied),
    "email_change": (_email_request, _pw_confirm, _email_applied),
    "data_export": (_export_request, _pw_confirm, _export_applied),
    "account_delete": (_delete_request, _pw_confirm, _delete_applied),
    "account_reactivate": (_reactivate_request, _pw_confirm, _reactivate_applied),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_happy_path_then_the_token_is_used(kind, db: Session, make_user) -> None:
    user = make_user()
    request, confirm, applied = KINDS[kind]
    token = request(db, user)
    action = db.exec(select(AccountAction).where(AccountAction.token_hash == hash_token(token))).one()
    assert action.status == "pending" and token not in str(action.payload)
    assert abs((action.expires_at - utcnow()) - timedelta(hours=24)) < timedelta(minutes=1)
    preview = aa.preview_action(db, token)
    assert preview["status"] == "pending" and preview["type"] == action.type
    assert not applied(db, user), "nothing changes before confirmation"

    confirm(db, token)
    db.commit()
    assert applied(db, user)
    assert aa.preview_action(db, token)["status"] == "completed"
    assert db.exec(select(SecurityEvent).where(SecurityEvent.event_type == "account_action.completed")).first()

    with pytest.raises(aa.TokenRefused) as refused:
        confirm(db, token)
    db.rollback()
    assert refused.value.reason == "used" and refused.value.status == 409


@pytest.mark.parametrize("kind", list(KINDS))
def test_expired_token_is_refused(kind, db: Session, make_user) -> None:
    user = make_user()
    request, confirm, applied = KINDS[kind]
    token = request(db, user)
    action = db.exec(select(AccountAction).where(AccountAction.token_hash == hash_token(token))).one()
    action.expires_at = utcnow() - timedelta(seconds=1)
    db.add(action)
    db.commit()
    assert aa.preview_action(db, token)["status"] == "expired"
    with pytest.raises(aa.TokenRefused) as refused:
        confirm(db, token)
    db.rollback()
    assert refused.value.reason == "expired" and refused.value.status == 410
    assert not applied(db, user)
    refusal = db.exec(select(SecurityEvent).where(SecurityEvent.event_type == "account_action.refused")).all()
    assert any(e.details["reason"] == "expired" for e in refusal), "every consumption attempt is audited"


@pytest.mark.parametrize("kind", list(KINDS))
def test_newer_request_cancels_the_older_token(kind, db: Session, make_user) -> None:
    user = make_user()
    request, confirm, applied = KINDS[kind]
    old = request(db, user)
    if kind == "account_reactivate":
        aa.request_reactivation(db, user.email)
        db.commit()
        new = token_from(db, "account_reactivate_confirm")
    else:
        new = request(db, user)
    assert new != old
    assert aa.preview_action(db, old)["status"] == "cancelled"
    with pytest.raises(aa.TokenRefused) as refused:
        confirm(db, old)
    db.rollback()
    assert refused.value.reason == "cancelled"
    assert not applied(db, user)
    confirm(db, new)
    db.commit()
    assert applied(db, user)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "account_reactivate"])
def test_a_browser_signed_in_as_someone_else_is_refused(kind, db: Session, make_user) -> None:
    user = make_user()
    other = make_user("other@example.com")
    request, confirm, applied = KINDS[kind]
    token = request(db, user)
    with pytest.raises(aa.TokenRefused) as refused:
        confirm(db, token, signed_in=other)
    db.rollback()
    assert refused.value.reason == "wrong_user" and refused.value.status == 403
    assert not applied(db, user)
    assert aa.preview_action(db, token)["status"] == "pending", "a refusal does not use the token"


def test_reactivation_token_cannot_serve_another_account(db: Session, make_user) -> None:
    user = make_user()
    other = make_user("other@example.com")
    token = _reactivate_request(db, user)
    with pytest.raises(aa.TokenRefused) as refused:
        aa.confirm_action(db, token, signed_in=other)
    db.rollback()
    assert refused.value.reason == "wrong_user"
    assert not _reactivate_applied(db, user)


def test_invalid_token(db: Session) -> None:
    assert aa.preview_action(db, "nope")["status"] == "invalid"
    for bad in ("", "nope", "x" * 500):
        with pytest.raises(aa.TokenRefused) as refused:
            aa.confirm_action(db, bad)
        db.rollback()
        assert refused.value.reason == "invalid" and refused.value.status == 404


def test_password_change_keeps_the_confirming_session_and_ends_the_others(db: Session, make_user) -> None:
    user = make_user()
    start_session(db, user, ip=None, user_agent="laptop")
    start_session(db, user, ip=None, user_agent="phone")
    db.commit()
    current = db.exec(select(UserSession).where(UserSession.user_agent == "laptop")).one()
    with pytest.raises(Forbidden):
        aa.request_password_change(db, user, "not my password", NEW_PASSWORD)
    db.rollback()
    with pytest.raises(InvalidInput):
        aa.request_password_change(db, user, PASSWORD, "password")
    db.rollback()
    token = _pw_request(db, user)
    action = db.exec(select(AccountAction).where(AccountAction.token_hash == hash_token(token))).one()
    assert NEW_PASSWORD not in str(action.payload) and action.payload["password_hash"].startswith("$2")
    result = aa.confirm_action(db, token, signed_in=user, current_jti=current.jti)
    db.commit()
    assert not result.signed_out
    db.expire_all()
    rows = {s.user_agent: s.revoked_at for s in db.exec(select(UserSession)).all()}
    assert rows["laptop"] is None and rows["phone"] is not None


def test_password_change_confirmed_signed_out_ends_every_session(db: Session, make_user) -> None:
    user = make_user()
    start_session(db, user, ip=None, user_agent="laptop")
    db.commit()
    result = aa.confirm_action(db, _pw_request(db, user))
    db.commit()
    assert result.signed_out
    db.expire_all()
    assert all(s.revoked_at is not None for s in db.exec(select(UserSession)).all())


def test_reset_by_unknown_email_answers_nothing_and_mails_nothing(db: Session, make_user) -> None:
    make_user()
    aa.request_password_reset_by_email(db, "nobody@example.com")
    aa.request_password_reset_by_email(db, "not an address")
    db.commit()
    assert db.exec(select(OutboxMessage)).all() == []
    aa.request_password_reset_by_email(db, "USER@example.com ")
    db.commit()
    mail = db.exec(select(OutboxMessage)).one()
    assert mail.template == "password_reset" and "/reset-password?token=" in mail.context["link"]


def test_reset_link_cannot_be_confirmed_without_a_password_and_vice_versa(db: Session, make_user) -> None:
    user = make_user()
    reset = _reset_request(db, user)
    assert aa.preview_action(db, reset)["needsPassword"] is True
    with pytest.raises(aa.TokenRefused) as refused:
        aa.confirm_action(db, reset)
    db.rollback()
    assert refused.value.reason == "not_applicable"
    with pytest.raises(InvalidInput):
        aa.confirm_password_reset(db, reset, "short")
    db.rollback()
    export = _export_request(db, user)
    with pytest.raises(aa.TokenRefused):
        aa.confirm_password_reset(db, export, NEW_PASSWORD)
    db.rollback()
    assert aa.preview_action(db, reset)["status"] == "pending"


def test_admin_triggered_reset_uses_the_same_confirm(db: Session, make_user) -> None:
    admin = make_user("admin@example.com", role="admin")
    user = make_user()
    aa.request_password_reset(db, user, initiated_by_admin=admin.id)
    db.commit()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).one()
    assert "administrator" in mail.context["reason"]
    aa.confirm_password_reset(db, token_from(db, "password_reset"), NEW_PASSWORD)
    db.commit()
    assert _pw_applied(db, user)


def test_email_change_mails_both_addresses_and_rechecks_uniqueness_on_confirm(db: Session, make_user) -> None:
    user = make_user()
    with pytest.raises(Conflict):
        make_user("taken@example.com")
        aa.request_email_change(db, user, "taken@example.com", PASSWORD)
    db.rollback()
    token = _email_request(db, user)
    to = {m.template: m.to_email for m in db.exec(select(OutboxMessage)).all()}
    assert to["email_change_confirm"] == "new-address@example.com" and to["email_change_notice"] == user.email
    assert aa.preview_action(db, token)["newEmailMasked"] == "n***@e***.com"
    make_user("new-address@example.com")  # someone registers the address before the user confirms
    with pytest.raises(Conflict) as conflict:
        aa.confirm_action(db, token)
    db.rollback()
    assert conflict.value.status == 409 and "already uses" in conflict.value.message
    assert _reload(db, user).email == "user@example.com"


def test_delete_account_signs_out_publishes_and_mails_the_way_back(db: Session, make_user) -> None:
    user = make_user()
    start_session(db, user, ip=None, user_agent=None)
    db.commit()
    with pytest.raises(Forbidden):
        aa.request_account_deletion(db, user, "wrong password")
    db.rollback()
    result = aa.confirm_action(db, _delete_request(db, user), signed_in=user)
    db.commit()
    assert result.signed_out
    u = _reload(db, user)
    assert u.deactivated_by == u.id
    assert abs((u.deactivated_until - utcnow()) - timedelta(days=30)) < timedelta(minutes=1)
    assert all(s.revoked_at is not None for s in db.exec(select(UserSession)).all())
    event = db.exec(select(Notification).where(Notification.event_type == ACCOUNT_STATUS_CHANGED)).one()
    assert event.payload["status"] == "deactivated"
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "account_deleted")).one()
    assert mail.context["reactivate_url"].endswith("/reactivate")
    with pytest.raises(Forbidden) as refused:
        authenticate(db, user.email, PASSWORD)
    assert "/reactivate" in refused.value.message and "scheduled for deletion" in refused.value.message


def test_admin_suspension_is_never_lifted_by_self_service(db: Session, make_user) -> None:
    admin = make_user("admin@example.com", role="admin")
    user = make_user(status=UserStatus.deactivated.value, deactivated_by=admin.id, deactivation_reason="abuse")
    aa.request_reactivation(db, user.email)
    db.commit()
    assert db.exec(select(OutboxMessage)).all() == [], "no link for a suspended account"
    with pytest.raises(Forbidden):
        aa.reactivate_user(db, user, by_admin=None)
    db.rollback()
    with pytest.raises(Forbidden) as refused:
        authenticate(db, user.email, PASSWORD)
    assert refused.value.message == "This account is deactivated."

    # A reactivation link requested during a self-deletion dies when an admin suspends the account meanwhile.
    other = make_user("other@example.com")
    token = _reactivate_request(db, other)
    other = _reload(db, other)
    other.deactivated_until, other.deactivation_reason, other.deactivated_by = None, "abuse", admin.id
    db.add(other)
    db.commit()
    with pytest.raises(aa.TokenRefused) as refused_link:
        aa.confirm_action(db, token)
    db.rollback()
    assert refused_link.value.reason == "not_applicable"
    assert _reload(db, other).status == "deactivated"

    aa.reactivate_user(db, _reload(db, user), by_admin=admin.id)
    db.commit()
    assert _reload(db, user).status == "active"


def test_reactivation_after_the_window_is_refused(db: Session, make_user) -> None:
    user = make_user()
    token = _reactivate_request(db, user)
    u = _reload(db, user)
    u.deactivated_until = utcnow() - timedelta(minutes=1)
    db.add(u)
    db.commit()
    with pytest.raises(aa.TokenRefused):
        aa.confirm_action(db, token)
    db.rollback()
    assert _reload(db, user).status == "deactivated"


def test_wrong_password_answers_stay_identical_for_deactivated_accounts(db: Session, make_user) -> None:
    user = make_user()
    _self_delete(db, user)
    from chat3d.domain.errors import Unauthorized

    with pytest.raises(Unauthorized) as wrong:
        authenticate(db, user.email, "not the password")
    assert wrong.value.message == "Wrong email or password."


def test_profile_update_and_stale_actions_expire(db: Session, make_user) -> None:
    user = make_user()
    aa.update_profile(db, user, display_name="  Ada   L ", marketing_consent=True)
    db.commit()
    assert _reload(db, user).display_name == "Ada L" and _reload(db, user).marketing_consent
    with pytest.raises(InvalidInput):
        aa.update_profile(db, user, display_name="x" * 200)
    db.rollback()
    token = _export_request(db, user)
    assert [a["type"] for a in aa.pending_actions(db, user.id)] == ["data_export"]
    action = db.exec(select(AccountAction).where(AccountAction.token_hash == hash_token(token))).one()
    action.expires_at = utcnow() - timedelta(seconds=1)
    db.add(action)
    db.commit()
    assert aa.expire_stale_actions(db) == 1
    db.commit()
    db.expire_all()
    assert db.get(AccountAction, action.id).status == ActionStatus.expired.value

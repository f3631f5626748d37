"""Admin actions: suspension rules, role changes, settings validation, password reset, metrics from real rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from chat3d.db.models import (
    AdminAuditLog,
    AppSettings,
    ChatContext,
    Notification,
    OutboxMessage,
    Query,
    User,
    UserSession,
    utcnow,
)
from chat3d.domain import admin as admin_domain
from chat3d.domain.errors import Conflict, DomainError, Forbidden, InvalidInput
from chat3d.domain.metrics import dashboard_metrics
from chat3d.domain.sessions import start_session


@pytest.fixture
def root(make_user) -> User:
    return make_user("root@example.com", role="admin")


def _actions(db: Session) -> list[str]:
    return [r.action for r in db.exec(select(AdminAuditLog).order_by(AdminAuditLog.created_at)).all()]


def test_suspension_revokes_sessions_records_reason_and_schedules_nothing(db: Session, root: User, make_user) -> None:
    user = make_user("u@example.com")
    start_session(db, user, ip=None, user_agent=None)
    db.commit()
    admin_domain.deactivate_user(db, root, user.id, "abuse", ip="10.1.1.1")
    db.commit()
    db.refresh(user)
    assert (user.status, user.deactivation_reason, user.deactivated_by, user.deactivated_until) == (
        "deactivated", "abuse", root.id, None)
    assert all(s.revoked_at for s in db.exec(select(UserSession).where(UserSession.user_id == user.id)).all())
    # The status change, and (issue 24) one account.session.revoked per revoked session.
    types = [n.event_type for n in db.exec(select(Notification).where(Notification.user_id == user.id)).all()]
    assert types.count("account.status.changed") == 1 and set(types) <= {"account.status.changed", "account.session.revoked"}
    log = db.exec(select(AdminAuditLog)).one()
    assert (log.action, log.actor_id, log.target_id, log.ip, log.details["reason"]) == (
        "user.deactivate", root.id, str(user.id), "10.1.1.1", "abuse")
    with pytest.raises(InvalidInput):
        admin_domain.deactivate_user(db, root, user.id, "  ")
    with pytest.raises(Forbidden):
        admin_domain.deactivate_user(db, root, root.id, "me")


def test_suspension_is_not_lifted_by_self_service_reactivation(db: Session, root: User, make_user) -> None:
    actions = pytest.importorskip("chat3d.domain.account_actions")
    user = make_user("u@example.com")
    admin_domain.deactivate_user(db, root, user.id, "abuse")
    db.commit()
    assert not actions.can_self_reactivate(user)
    actions.request_reactivation(db, "u@example.com")
    db.commit()
    assert db.exec(select(OutboxMessage).where(OutboxMessage.to_email == "u@example.com")).first() is None
    with pytest.raises(DomainError):
        actions.reactivate_user(db, user, by_admin=None)
    db.rollback()
    admin_domain.activate_user(db, root, user.id)
    db.commit()
    db.refresh(user)
    assert (user.status, user.deactivation_reason, user.deactivated_by) == ("active", None, None)


def test_last_admin_cannot_be_demoted_or_suspended(db: Session, root: User, make_user) -> None:
    other = make_user("second@example.com", role="admin")
    admin_domain.deactivate_user(db, root, other.id, "left the team")
    db.commit()
    with pytest.raises(Conflict):
        admin_domain.change_role(db, root, root.id, "user")
    db.rollback()
    with pytest.raises(InvalidInput):
        admin_domain.change_role(db, root, other.id, "owner")
    plain = make_user("p@example.com")
    assert admin_domain.change_role(db, root, plain.id, "admin").role == "admin"
    db.commit()
    assert admin_domain.change_role(db, root, root.id, "user").role == "user"  # no longer the last
    db.commit()
    assert _actions(db) == ["user.deactivate", "user.role", "user.role"]


def test_admin_password_reset_uses_the_profile_action(db: Session, root: User, make_user) -> None:
    pytest.importorskip("chat3d.domain.account_actions")
    user = make_user("u@example.com")
    admin_domain.reset_password(db, root, user.id, ip="10.0.0.1")
    db.commit()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == "u@example.com")).one()
    assert "/reset-password?token=" in str(mail.context)
    assert _actions(db) == ["user.reset_password"]


def test_settings_are_validated_audited_and_announced_to_admins(db: Session, root: User, make_user) -> None:
    make_user("second@example.com", role="admin")
    for bad in ({"invitation_quota_per_user": -1}, {"invitation_quota_per_user": True},
                {"invitation_quota_per_user": 1.5}, {"waitlist_enabled": 1}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            admin_domain.update_settings(db, root, bad)
    admin_domain.update_settings(db, root, {"waitlist_enabled": True, "invitation_quota_per_user": 0})
    db.commit()
    row = db.get(AppSettings, 1)
    assert (row.waitlist_enabled, row.invitation_quota_per_user, row.updated_by) == (True, 0, root.id)
    events = db.exec(select(Notification).where(Notification.event_type == "admin.settings.updated")).all()
    assert len(events) == 2 and events[0].payload["waitlistEnabled"] is True
    (log,) = db.exec(select(AdminAuditLog)).all()
    assert log.details["changes"] == {"waitlist_enabled": [False, True], "invitation_quota_per_user": [3, 0]}
    admin_domain.update_settings(db, root, {"waitlist_enabled": True})  # no change, no event, no entry
    db.commit()
    assert len(_actions(db)) == 1


def test_metrics_count_real_rows(db: Session, root: User) -> None:
    ctx = ChatContext(owner_id=root.id)
    db.add(ctx)
    db.flush()
    now = utcnow()
    for state, age, tokens, cost in (("completed", 0, 100, 0.5), ("failed", 0, 10, 0.1), ("completed", 3, 1000, 2.0),
                                     ("queued", 0, 0, 0.0), ("completed", 30, 5, 0.01)):
        db.add(Query(owner_id=root.id, context_id=ctx.id, state=state, input_tokens=tokens, output_tokens=tokens,
                     cost_usd=cost, created_at=now - timedelta(days=age)))
    db.commit()
    m = dashboard_metrics(db, now=now + timedelta(seconds=1))
    assert m["users"]["active"] == 1
    today, week = m["queriesToday"], m["queries7d"]
    assert (today["total"], today["succeeded"], today["failed"], today["inProgress"]) == (3, 1, 1, 1)
    assert (week["total"], week["succeeded"], week["inputTokens"]) == (4, 2, 1110)
    assert week["costUsd"] == pytest.approx(2.6) and m["allTime"]["costUsd"] == pytest.approx(2.61)


def test_metrics_show_the_limits_in_force_and_storage(db: Session, root: User, monkeypatch) -> None:
    from chat3d.domain.files import store_bytes
    from chat3d.settings import reset_settings_cache

    monkeypatch.setenv("MAX_CONCURRENT_QUERIES_PER_USER", "3")
    monkeypatch.setenv("DAILY_TOKEN_BUDGET_PER_USER", "12345")
    reset_settings_cache()
    store_bytes(db, root.id, b"x" * 100, fmt="stl", filename="m.stl")
    db.commit()
    m = dashboard_metrics(db)
    assert m["limits"]["concurrentQueriesPerUser"] == 3 and m["limits"]["dailyTokensPerUser"] == 12345
    assert m["storage"]["files"] == 1 and m["storage"]["bytes"] == 100

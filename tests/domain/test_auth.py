"""Login, tokens and sessions: revocation, deactivation and role changes act on the next request."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from chat3d.db.models import SecurityEvent, UserSession
from chat3d.domain.auth import WRONG_CREDENTIALS, authenticate
from chat3d.domain.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from chat3d.domain.security_events import list_security_events
from chat3d.domain.sessions import (
    list_sessions,
    logout,
    resolve_token,
    revoke_all_sessions,
    revoke_other_sessions,
    revoke_session,
    user_from_token,
)
from chat3d.domain.users import ensure_not_last_admin
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD


def _events(db: Session, event_type: str) -> list[SecurityEvent]:
    return list_security_events(db, event_type=event_type)[0]


def test_login_opens_a_session_with_client_details(db: Session, make_user) -> None:
    user = make_user("a@example.com")
    token, signed_in = authenticate(db, " A@Example.com", PASSWORD, "10.0.0.1", "pytest-agent")
    db.commit()
    assert signed_in.id == user.id and signed_in.last_login_at is not None
    row = db.exec(select(UserSession)).one()
    assert (row.user_id, row.ip, row.user_agent, row.revoked_at) == (user.id, "10.0.0.1", "pytest-agent", None)
    assert resolve_token(db, token) == (user, row.jti)


def test_wrong_password_gets_one_answer_whatever_the_account(db: Session, make_user) -> None:
    make_user("active@example.com")
    make_user("off@example.com", status="deactivated")
    answers = []
    for email in ("active@example.com", "off@example.com", "nobody@example.com"):
        with pytest.raises(Unauthorized) as caught:
            authenticate(db, email, "wrong horse battery", "10.0.0.2", "ua")
        answers.append((type(caught.value), caught.value.message, caught.value.detail))
    assert answers == [(Unauthorized, WRONG_CREDENTIALS, None)] * 3
    assert {e.email for e in _events(db, "login.failed")} == {"active@example.com", "off@example.com", "nobody@example.com"}
    # Only someone who knows the password learns that the account is deactivated.
    with pytest.raises(Forbidden, match="deactivated"):
        authenticate(db, "off@example.com", PASSWORD, "10.0.0.2", "ua")
    assert len(_events(db, "login.refused_inactive")) == 1


def test_logout_kills_that_token_only(db: Session, make_user) -> None:
    make_user("a@example.com")
    first, _ = authenticate(db, "a@example.com", PASSWORD)
    second, _ = authenticate(db, "a@example.com", PASSWORD)
    db.commit()
    assert logout(db, first)
    db.commit()
    with pytest.raises(Unauthorized):
        user_from_token(db, first)
    assert user_from_token(db, second).email == "a@example.com"
    assert not logout(db, first) and not logout(db, "garbage")
    assert [e.details["reason"] for e in _events(db, "token.revoked")] == ["session revoked"]


def test_invalid_tokens_are_refused_and_recorded(db: Session, make_user, monkeypatch) -> None:
    make_user("a@example.com")
    token, _ = authenticate(db, "a@example.com", PASSWORD)
    db.commit()
    for bad in ("garbage", token[:-3] + "abc"):
        with pytest.raises(Unauthorized):
            user_from_token(db, bad)
    monkeypatch.setenv("JWT_AUDIENCE", "another-app")
    reset_settings_cache()
    with pytest.raises(Unauthorized):
        user_from_token(db, token)
    assert len(_events(db, "token.invalid")) == 3


def test_deactivation_and_role_change_act_on_the_next_request(db: Session, make_user) -> None:
    user = make_user("a@example.com")
    token, _ = authenticate(db, "a@example.com", PASSWORD)
    db.commit()
    user.role = "admin"
    db.commit()
    assert user_from_token(db, token).role == "admin"
    user.status = "deactivated"
    db.commit()
    with pytest.raises(Unauthorized):
        user_from_token(db, token)


def test_a_deleted_accounts_token_is_refused_and_recorded(db: Session, make_user) -> None:
    user = make_user("a@example.com")
    user_id = user.id
    token, _ = authenticate(db, "a@example.com", PASSWORD)
    db.commit()
    db.delete(user)
    db.commit()
    with pytest.raises(Unauthorized):
        user_from_token(db, token)
    [event] = _events(db, "token.revoked")
    assert (event.user_id, event.details["sub"]) == (None, str(user_id))


def test_list_and_revoke_sessions(db: Session, make_user) -> None:
    user = make_user("a@example.com")
    other = make_user("b@example.com")
    tokens = [authenticate(db, "a@example.com", PASSWORD)[0] for _ in range(3)]
    authenticate(db, "b@example.com", PASSWORD)
    db.commit()
    rows, total = list_sessions(db, user.id)
    assert total == 3 and len(rows) == 3
    assert list_sessions(db, user.id, limit=2, offset=2)[0] == rows[2:]

    _, current_jti = resolve_token(db, tokens[0])
    victim = next(r for r in rows if r.jti != current_jti)
    with pytest.raises(NotFound):  # someone else's session
        revoke_session(db, other.id, victim.id)
    revoke_session(db, user.id, victim.id)
    db.commit()
    assert list_sessions(db, user.id)[1] == 2
    assert revoke_other_sessions(db, user.id, current_jti) == 1
    db.commit()
    assert [r.jti for r in list_sessions(db, user.id)[0]] == [current_jti]
    assert revoke_all_sessions(db, user.id) == 1
    db.commit()
    for token in tokens:
        with pytest.raises(Unauthorized):
            user_from_token(db, token)
    assert list_sessions(db, other.id)[1] == 1


def test_revocations_are_cached_in_redis_when_configured(db: Session, make_user, redis_url, monkeypatch) -> None:
    import redis

    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    user = make_user("a@example.com")
    first, _ = authenticate(db, "a@example.com", PASSWORD)
    second, _ = authenticate(db, "a@example.com", PASSWORD)
    db.commit()
    logout(db, first)
    db.commit()
    with pytest.raises(Unauthorized):
        user_from_token(db, first)
    assert user_from_token(db, second).id == user.id
    _, jti = resolve_token(db, second)
    revoke_all_sessions(db, user.id)
    # Redis alone now refuses it, and forgets the key when the token would have expired anyway.
    ttl = redis.Redis.from_url(redis_url).ttl(f"chat3d:revoked-jti:{jti}")
    assert 0 < ttl <= 7 * 24 * 3600 + 1
    with pytest.raises(Unauthorized):
        user_from_token(db, second)


def test_login_is_rate_limited_per_ip_and_email(db: Session, make_user, monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "3/minute")
    reset_settings_cache()
    make_user("a@example.com")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            authenticate(db, "a@example.com", "wrong horse battery", "10.0.0.3")
    with pytest.raises(RateLimited) as caught:
        authenticate(db, "a@example.com", PASSWORD, "10.0.0.3")
    assert 0 < caught.value.retry_after <= 60
    authenticate(db, "a@example.com", PASSWORD, "10.0.0.4")  # another address is not blocked
    assert _events(db, "rate_limited")[0].details == {"limit": "login", "rate": "3/minute"}


def test_last_active_admin_is_protected(db: Session, make_user) -> None:
    first = make_user("admin1@example.com", role="admin")
    ensure_not_last_admin(db, make_user("plain@example.com"))
    with pytest.raises(Conflict):
        ensure_not_last_admin(db, first)
    db.rollback()
    second = make_user("admin2@example.com", role="admin")
    ensure_not_last_admin(db, first)
    db.rollback()
    second.status = "deactivated"
    db.add(second)
    db.commit()
    with pytest.raises(Conflict):
        ensure_not_last_admin(db, first)
    ensure_not_last_admin(db, second)  # an inactive admin is never the last one


@pytest.mark.parametrize("with_redis", [False, True])
def test_stream_rechecks_in_one_batch_follow_the_same_rules(db: Session, make_user, redis_url, monkeypatch,
                                                              with_redis: bool) -> None:
    """`tokens_still_valid` (a heartbeat's batch of stream re-checks) answers as `user_from_token` would for
    each token: a live session of that active user → True; logged out, another user's id, a deactivated
    account, garbage → False, refusals recorded as security events; a live session's last_seen_at is kept."""
    from datetime import timedelta

    from chat3d.db.models import User, UserStatus, utcnow
    from chat3d.domain.sessions import tokens_still_valid

    if with_redis:
        monkeypatch.setenv("REDIS_URL", redis_url)
        reset_settings_cache()
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    live, _ = authenticate(db, "alice@example.com", PASSWORD)
    gone, _ = authenticate(db, "alice@example.com", PASSWORD)
    bobs, _ = authenticate(db, "bob@example.com", PASSWORD)
    db.commit()
    logout(db, gone)
    before = len(list_security_events(db)[0])
    for row in db.exec(select(UserSession)).all():
        row.last_seen_at = utcnow() - timedelta(minutes=5)
        db.add(row)
    db.commit()
    checks = [(live, alice.id), (gone, alice.id), (live, bob.id), (bobs, bob.id), ("garbage", alice.id)]
    assert tokens_still_valid(db, checks) == [True, False, False, True, False]
    db.commit()
    seen = {r.jti: r.last_seen_at for r in db.exec(select(UserSession)).all()}
    _, live_jti = resolve_token(db, live)
    assert seen[live_jti] > utcnow() - timedelta(minutes=1)
    # The refusals were recorded (alice's valid token offered for bob is no security event of its own).
    events = list_security_events(db)[0]
    assert sorted(e.details["reason"] for e in events[: len(events) - before]) == ["DecodeError", "session revoked"]

    deactivated = db.get(User, bob.id)
    deactivated.status = UserStatus.deactivated.value
    db.add(deactivated)
    db.commit()
    assert tokens_still_valid(db, [(bobs, bob.id), (live, alice.id)]) == [False, True]
    db.commit()
    assert list_security_events(db, event_type="token.refused")[0][0].details["reason"] == "account missing or not active"

"""Signing in: one answer for every wrong password, whatever the account's state, and rate-limited."""

from __future__ import annotations

from sqlmodel import Session

from chat3d.db.models import User, UserStatus
from chat3d.domain.errors import Forbidden, Unauthorized
from chat3d.domain.passwords import verify_password
from chat3d.domain.ratelimit import enforce_rate_limit
from chat3d.domain.security_events import record_security_event
from chat3d.domain.sessions import start_session
from chat3d.domain.users import get_user_by_email, normalize_email
from chat3d.settings import get_settings

WRONG_CREDENTIALS = "Wrong email or password."


def authenticate(
    session: Session, email: str, password: str, ip: str | None = None, user_agent: str | None = None
) -> tuple[str, User]:
    """Check the password and open a session; returns (token, user).

    A wrong password gets the same answer and the same bcrypt work whether the account exists, is
    active or is deactivated. Only someone who knows the password learns that the account is deactivated.
    """
    email = normalize_email(email)
    enforce_rate_limit(session, "login", get_settings().rate_limit_login, ip or "-", email, email=email, ip=ip)
    user = get_user_by_email(session, email)
    matches = verify_password(password, user.password_hash if user else None)
    if user is None or not matches:
        record_security_event(
            session, "login.failed", user_id=user.id if user else None, email=email, ip=ip, user_agent=user_agent
        )
        raise Unauthorized(WRONG_CREDENTIALS)
    if user.status != UserStatus.active.value:
        record_security_event(
            session, "login.refused_inactive", user_id=user.id, email=email, ip=ip, user_agent=user_agent,
            details={"status": user.status},
        )
        from chat3d.domain.account_actions import self_deletion_login_message

        # Only someone with the right password gets here; a self-deleted account learns how to come back.
        raise Forbidden(self_deletion_login_message(user) or "This account is deactivated.")
    return start_session(session, user, ip=ip, user_agent=user_agent), user

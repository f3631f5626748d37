"""Signing in: one answer for every wrong password, whatever the account's state, and rate-limited.

Three budgets: every attempt per (IP, email); failed attempts per IP (any account: one machine guessing many
accounts) and per account (many machines guessing one). A client the account already knows is exempt from
the last two, so others' failures never lock the owner out: an IP seen in one of the account's sessions, or
the signed device cookie a successful sign-in left in the browser (`device_cookie`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlmodel import Session, select

from chat3d.db.models import User, UserSession, UserStatus
from chat3d.domain.errors import Forbidden, Unauthorized
from chat3d.domain.keys import LINKS, key
from chat3d.domain.passwords import verify_password
from chat3d.domain.ratelimit import budget_left, enforce_rate_limit, refuse, spend
from chat3d.domain.security_events import record_security_event
from chat3d.domain.sessions import start_session
from chat3d.domain.users import get_user_by_email, normalize_email
from chat3d.settings import get_settings

WRONG_CREDENTIALS = "Wrong email or password."


TOO_MANY = "Too many failed sign-ins."


def device_cookie(user: User) -> str:
    """A value naming this user and this browser, signed with the deployment's link key."""
    body = f"{user.id}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_device_mac(body)}"


def _device_mac(body: str) -> str:
    return hmac.new(key(LINKS).encode(), b"device:" + body.encode(), hashlib.sha256).hexdigest()[:32]


def _device_of(cookie: str | None) -> uuid.UUID | None:
    body, _, mac = (cookie or "").rpartition(".")
    if not body or not hmac.compare_digest(mac, _device_mac(body)):
        return None
    try:
        return uuid.UUID(body.split(".")[0])
    except ValueError:
        return None


def _known_client(session: Session, user: User | None, ip: str | None, device: str | None) -> bool:
    if user is None:
        return False
    if _device_of(device) == user.id:
        return True
    if not ip:
        return False
    return (
        session.exec(
            select(UserSession.id).where(UserSession.user_id == user.id, UserSession.ip == ip[:64]).limit(1)
        ).first()
        is not None
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    ip: str | None = None,
    user_agent: str | None = None,
    *,
    device: str | None = None,
) -> tuple[str, User]:
    """Check the password and open a session; returns (token, user).

    A wrong password gets the same answer and the same bcrypt work whether the account exists, is
    active or is deactivated. Only someone who knows the password learns that the account is deactivated.
    `device` is the device cookie of the request, if any.
    """
    email = normalize_email(email)
    settings = get_settings()
    enforce_rate_limit(session, "login", settings.rate_limit_login, ip or "-", email, email=email, ip=ip)
    user = get_user_by_email(session, email)
    if not _known_client(session, user, ip, device):
        # Budgets of failures; counted by address, so a locked answer says nothing about the account's existence.
        if not budget_left(settings.rate_limit_login_ip, "login-ip", ip or "-"):
            raise refuse(
                session, settings.rate_limit_login_ip, "login-ip", ip or "-", message=TOO_MANY, email=email, ip=ip
            )
        if not budget_left(settings.rate_limit_login_account, "login-account", email):
            raise refuse(
                session,
                settings.rate_limit_login_account,
                "login-account",
                email,
                message=TOO_MANY + " This account is protected for a while; a device you signed in "
                "with before still works.",
                email=email,
                ip=ip,
            )
    matches = verify_password(password, user.password_hash if user else None)
    if user is None or not matches:
        spend(settings.rate_limit_login_ip, "login-ip", ip or "-")
        spend(settings.rate_limit_login_account, "login-account", email)
        record_security_event(
            session, "login.failed", user_id=user.id if user else None, email=email, ip=ip, user_agent=user_agent
        )
        raise Unauthorized(WRONG_CREDENTIALS)
    if user.status != UserStatus.active.value:
        record_security_event(
            session,
            "login.refused_inactive",
            user_id=user.id,
            email=email,
            ip=ip,
            user_agent=user_agent,
            details={"status": user.status},
        )
        from chat3d.domain.account_actions import self_deletion_login_message

        # Only someone with the right password gets here; a self-deleted account learns how to come back.
        raise Forbidden(self_deletion_login_message(user) or "This account is deactivated.")
    return start_session(session, user, ip=ip, user_agent=user_agent), user

"""Platform policy an admin sets at run time (the app_settings row) and what the public may know of it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from chat3d.db.models import AppSettings
from chat3d.settings import get_settings


def get_app_settings(session: Session) -> AppSettings:
    """The singleton row; the migration inserts it, the defaults stand in if someone deleted it."""
    return session.get(AppSettings, 1) or AppSettings()


def public_config(session: Session) -> dict[str, Any]:
    """What the login and registration pages need before anyone signs in."""
    policy = get_app_settings(session)
    settings = get_settings()
    return {
        "waitlist_enabled": policy.waitlist_enabled,
        "invitations_enabled": policy.invitations_enabled,
        "registration_open": not policy.waitlist_enabled,
        "environment": settings.chat3d_env,
        "mail_delivery": "smtp" if settings.smtp_enabled else "files",
    }

"""Seed the first admin so a fresh install can be administered."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import Role, User, UserStatus
from chat3d.domain.passwords import hash_password
from chat3d.settings import get_settings

log = logging.getLogger("chat3d.seed")


def seed_admin() -> str | None:
    """Create the admin from SEED_ADMIN_EMAIL/SEED_ADMIN_PASSWORD when no admin exists yet.

    Without a password one is generated and printed once; returns the email of a created admin.
    """
    settings = get_settings()
    try:
        created = _create_admin(settings)
    except IntegrityError:  # another process (or worker) starting at the same moment seeded it first
        return None
    if created is None:
        return None
    email, password, generated = created
    if generated:
        print(
            f"\n  Chat3D admin account created: {email} / password: {password}\n  (shown once; set SEED_ADMIN_PASSWORD to choose it)\n",
            flush=True,
        )
    log.info("seeded admin %s", email)
    return email


def _create_admin(settings) -> tuple[str, str, bool] | None:
    with session_scope() as session:
        if session.exec(select(User).where(User.role == Role.admin.value)).first():
            return None
        email = (settings.seed_admin_email or "admin@chat3d.local").strip().lower()
        password = settings.seed_admin_password
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        if session.exec(select(User).where(User.email == email)).first():
            return None
        user = User(
            email=email,
            password_hash=hash_password(password),
            display_name="Administrator",
            role=Role.admin.value,
            status=UserStatus.active.value,
        )
        session.add(user)
    return email, password, generated

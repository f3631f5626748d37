"""Rules about user accounts that several features share: email form, lookup, the last-admin guard."""

from __future__ import annotations

import re

from sqlmodel import Session, select, update

from chat3d.db.models import Role, User, UserStatus
from chat3d.domain.errors import Conflict, InvalidInput

# Deliberately loose: one @, no spaces, a dot in the domain. The confirmation mail is the real check.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalised email, or InvalidInput when it cannot be an address."""
    normalized = normalize_email(email)
    if len(normalized) > 320 or not _EMAIL.match(normalized):
        raise InvalidInput("Enter a valid email address.")
    return normalized


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def ensure_not_last_admin(session: Session, user: User) -> None:
    """Refuse to deactivate, demote or delete `user` when they are the last active admin.

    Atomic on both databases, so two admins removing each other at once cannot both pass. PostgreSQL: the
    active admins are locked (FOR UPDATE) before counting. SQLite ignores FOR UPDATE and runs a plain SELECT
    outside any transaction, so a no-op UPDATE of the user's row first takes the database's single write lock:
    the count then sees every earlier change, and a concurrent guard waits until this transaction ends.
    """
    if user.role != Role.admin.value or user.status != UserStatus.active.value:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.exec(update(User).where(User.id == user.id).values(role=User.role))
    admins = session.exec(
        select(User.id).where(User.role == Role.admin.value, User.status == UserStatus.active.value).with_for_update()
    ).all()
    if all(admin_id == user.id for admin_id in admins):
        raise Conflict("This is the last active admin; make another user admin first.")

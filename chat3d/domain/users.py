"""Rules about user accounts that several features share: email form, lookup, the last-admin guard."""

from __future__ import annotations

import unicodedata
import uuid

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, func, select, update

from chat3d.db.models import Role, User, UserStatus
from chat3d.domain.errors import Conflict, InvalidInput, NotFound

# Bidirectional overrides and isolates: they make "evil.exe" read as "exe.live" in mails and lists.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def clean_line(text: str | None) -> str:
    """User text for one line (names, titles, reasons): control characters (C0 but NUL, C1, DEL, bidi
    overrides) removed, runs of whitespace (CR/LF included) made one space, trimmed. A name can then never add a line
    to a mail header or a log, nor reorder what a reader sees."""
    kept = []
    for ch in text or "":
        if ch.isspace():
            kept.append(" ")
        elif ch == "\x00" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI):
            kept.append(ch)  # NUL stays: the engine refuses it with a clear 400 (chat3d/db/engine.py)
    return " ".join("".join(kept).split())


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalised email, or InvalidInput when it cannot be an address.

    `email-validator` checks the form (no display names, angle brackets, quoting, control characters or
    reserved domains); deliverability is the confirmation mail's job, not a DNS query's.
    """
    normalized = normalize_email(email)
    if len(normalized) > 320:
        raise InvalidInput("Enter a valid email address.")
    try:
        validate_email(normalized, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput("Enter a valid email address.") from None
    return normalized


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def require_user(session: Session, user_id: uuid.UUID) -> User:
    """The account re-read in this session (a signed-in tab holds a copy); NotFound once it was deleted."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("This account no longer exists.")
    return user


def has_account(session: Session, email: str) -> bool:
    """Whether the address belongs to an account; an unconfirmed registration (anyone may start one for any
    address) does not count, so it cannot stop invitations or the waitlist from reaching the real owner."""
    user = get_user_by_email(session, email)
    return user is not None and user.status != UserStatus.pending_registration.value


def lock_user(session: Session, user_id: uuid.UUID) -> None:
    """Serialise work on one account until the transaction ends: FOR UPDATE on PostgreSQL; on SQLite (which
    ignores it) a no-op UPDATE, which takes the database's write lock."""
    if session.get_bind().dialect.name == "sqlite":
        session.exec(update(User).where(col(User.id) == user_id).values(role=User.role))
    else:
        # FOR NO KEY UPDATE: serialises these callers without blocking rows that merely reference the user.
        session.exec(select(User.id).where(User.id == user_id).with_for_update(key_share=True)).first()


# Any constant: the PostgreSQL advisory lock that serialises every change to the set of active admins.
_ADMIN_SET_LOCK = 0x63336461  # "c3da"


def ensure_not_last_admin(session: Session, user: User) -> None:
    """Refuse to deactivate, demote or delete `user` when they are the last active admin.

    Atomic on both databases, so two admins removing each other at once cannot both pass: every guard first
    takes one lock for the whole set of admins, then counts (each statement sees what committed before it).
    PostgreSQL: a transaction-scoped advisory lock. (Locking the admin rows FOR UPDATE deadlocked: each request
    already held its target's row and waited for the other's.) SQLite ignores FOR UPDATE and reads outside any
    transaction, so a no-op UPDATE of the user's row takes the database's single write lock instead.
    """
    if user.role != Role.admin.value or user.status != UserStatus.active.value:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.exec(update(User).where(col(User.id) == user.id).values(role=User.role))
    elif dialect == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(_ADMIN_SET_LOCK)))
    admins = session.exec(
        select(User.id).where(User.role == Role.admin.value, User.status == UserStatus.active.value)
    ).all()
    if all(admin_id == user.id for admin_id in admins):
        raise Conflict("This is the last active admin; make another user admin first.")

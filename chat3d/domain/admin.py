"""What admins do to accounts and platform policy; every action leaves a row in the audit log.

Callers pass the acting admin (reloaded for the request) and the client IP; each function checks its own
rules (not yourself, not the last admin) and writes `AdminAuditLog` in the same transaction, so an
action and its audit entry commit or roll back together.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, func, or_, select

from chat3d.db.models import AdminAuditLog, AppSettings, Role, User, UserStatus, utcnow
from chat3d.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from chat3d.domain.pagination import paginate
from chat3d.domain.sessions import revoke_all_sessions
from chat3d.domain.users import clean_line, ensure_not_last_admin

SETTING_FIELDS = (
    "waitlist_enabled",
    "invitations_enabled",
    "invitation_waitlist_required",
    "invitation_quota_per_user",
)
MAX_QUOTA = 10_000


class Unavailable(DomainError):
    status = 503


def audit(
    session: Session,
    actor: User | None,
    action: str,
    target_type: str = "",
    target_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
    *,
    ip: str | None = None,
) -> AdminAuditLog:
    row = AdminAuditLog(
        actor_id=actor.id if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        details=details or {},
        ip=ip[:64] if ip else None,
    )
    session.add(row)
    return row


def list_audit_log(
    session: Session,
    *,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    target_id: str | None = None,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[AdminAuditLog, str | None]], int]:
    """Newest first; each row with its actor's email (None once the actor is gone)."""
    query = select(AdminAuditLog, User.email).join(User, col(User.id) == AdminAuditLog.actor_id, isouter=True)
    if action:
        query = query.where(col(AdminAuditLog.action).startswith(action, autoescape=True))
    if actor_id:
        query = query.where(AdminAuditLog.actor_id == actor_id)
    if target_id:
        query = query.where(AdminAuditLog.target_id == target_id)
    if search.strip():
        query = query.where(func.lower(func.coalesce(User.email, "")).contains(search.strip().lower(), autoescape=True))
    rows, total = paginate(
        session, query, col(AdminAuditLog.created_at).desc(), AdminAuditLog.id, limit=limit, offset=offset
    )
    return [(r[0], r[1]) for r in rows], total


# --- users ------------------------------------------------------------------------------------------------


def list_users(
    session: Session,
    *,
    search: str = "",
    status: str | None = None,
    role: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[User], int]:
    query = select(User)
    if search.strip():
        needle = search.strip().lower()
        query = query.where(
            or_(
                func.lower(User.email).contains(needle, autoescape=True),
                func.lower(User.display_name).contains(needle, autoescape=True),
            )
        )
    if status:
        try:
            query = query.where(User.status == UserStatus(status).value)
        except ValueError:
            raise InvalidInput(f"Unknown status {status!r}.") from None
    if role:
        try:
            query = query.where(User.role == Role(role).value)
        except ValueError:
            raise InvalidInput(f"Unknown role {role!r}.") from None
    return paginate(session, query, col(User.created_at).desc(), User.id, limit=limit, offset=offset)


def _user_for_update(session: Session, user_id: uuid.UUID | str) -> User:
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound("No such user.") from None
    # FOR NO KEY UPDATE: the audit row's and security events' foreign keys take KEY SHARE locks on the acting
    # admin's row; with FOR UPDATE, two admins acting on each other at once deadlocked (a 500 for one of them).
    user = session.exec(select(User).where(User.id == uid).with_for_update(key_share=True)).first()
    if user is None:
        raise NotFound("No such user.")
    return user


def _status_event(session: Session, user: User, reason: str | None = None) -> None:
    from chat3d.events.store import record_event
    from chat3d.events.types import ACCOUNT_STATUS_CHANGED

    record_event(session, user.id, ACCOUNT_STATUS_CHANGED, {"status": user.status, "reason": reason})


def activate_user(session: Session, admin: User, user_id: uuid.UUID | str, *, ip: str | None = None) -> User:
    """Lift a suspension (or a pending self-deletion): the account is active again."""
    user = _user_for_update(session, user_id)
    previous = user.status
    if previous == UserStatus.active.value:
        raise Conflict("This account is already active.")
    user.status = UserStatus.active.value
    user.deactivated_until = None
    user.deactivation_reason = None
    user.deactivated_by = None
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    audit(session, admin, "user.activate", "user", user.id, {"email": user.email, "was": previous}, ip=ip)
    _status_event(session, user)
    return user


def deactivate_user(
    session: Session, admin: User, user_id: uuid.UUID | str, reason: str, *, ip: str | None = None
) -> User:
    """Suspend an account: signs it out everywhere, schedules nothing (deactivated_until stays empty)."""
    reason = clean_line(reason)
    if not reason:
        raise InvalidInput("Give a reason for the suspension (the user may ask).")
    if len(reason) > 500:
        raise InvalidInput("The reason can have at most 500 characters.")
    user = _user_for_update(session, user_id)
    if user.id == admin.id:
        raise Forbidden("You cannot deactivate your own account here.")
    if (
        user.status == UserStatus.deactivated.value
        and user.deactivated_by is not None
        and user.deactivated_until is None
    ):
        raise Conflict("This account is already suspended.")
    ensure_not_last_admin(session, user)
    user.status = UserStatus.deactivated.value
    user.deactivation_reason = reason
    user.deactivated_by = admin.id
    user.deactivated_until = None
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    # The status event comes before the revocations: each open stream delivers it (the page shows why it was
    # signed out) and then ends on its own session's revocation.
    _status_event(session, user, reason)
    ended = revoke_all_sessions(session, user.id)
    audit(
        session,
        admin,
        "user.deactivate",
        "user",
        user.id,
        {"email": user.email, "reason": reason, "sessionsRevoked": ended},
        ip=ip,
    )
    return user


def change_role(session: Session, admin: User, user_id: uuid.UUID | str, role: str, *, ip: str | None = None) -> User:
    try:
        new_role = Role(role).value
    except ValueError:
        raise InvalidInput("The role is 'admin' or 'user'.") from None
    user = _user_for_update(session, user_id)
    if user.role == new_role:
        return user
    if new_role != Role.admin.value:
        ensure_not_last_admin(session, user)
    previous = user.role
    user.role = new_role
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    audit(session, admin, "user.role", "user", user.id, {"email": user.email, "from": previous, "to": new_role}, ip=ip)
    from chat3d.events.store import record_event
    from chat3d.events.types import ACCOUNT_ROLE_CHANGED

    record_event(session, user.id, ACCOUNT_ROLE_CHANGED, {"role": new_role})  # their open pages follow at once
    return user


def reset_password(session: Session, admin: User, user_id: uuid.UUID | str, *, ip: str | None = None) -> User:
    """Mail the user a password-reset link (the profile feature's action, started by an admin)."""
    try:
        from chat3d.domain.account_actions import request_password_reset
    except ImportError:
        raise Unavailable("Password reset is not available in this version yet.") from None
    user = _user_for_update(session, user_id)
    if user.status != UserStatus.active.value:
        raise Conflict("Activate the account before resetting its password.")
    request_password_reset(session, user, initiated_by_admin=admin.id)
    audit(session, admin, "user.reset_password", "user", user.id, {"email": user.email}, ip=ip)
    return user


# --- platform settings --------------------------------------------------------------------------------------


def settings_view(row: AppSettings) -> dict[str, Any]:
    return {field: getattr(row, field) for field in SETTING_FIELDS} | {
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


def _validated(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(SETTING_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if value is None:
            continue
        if field == "invitation_quota_per_user":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput("The invitation quota must be a whole number.")
            if not 0 <= value <= MAX_QUOTA:
                raise InvalidInput(f"The invitation quota must be between 0 and {MAX_QUOTA}.")
        elif not isinstance(value, bool):
            raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be true or false.")
        clean[field] = value
    return clean


def update_settings(session: Session, admin: User, changes: dict[str, Any], *, ip: str | None = None) -> AppSettings:
    """Validate and apply; every active admin gets an `admin.settings.updated` event (live consoles refresh)."""
    from chat3d.events.store import record_for_admins
    from chat3d.events.types import ADMIN_SETTINGS_UPDATED

    clean = _validated(changes)
    row = session.exec(select(AppSettings).where(AppSettings.id == 1).with_for_update()).first()
    if row is None:
        row = AppSettings(id=1)
    diff = {f: [getattr(row, f), v] for f, v in clean.items() if getattr(row, f) != v}
    if not diff:
        return row
    for field, (_, value) in diff.items():
        setattr(row, field, value)
    row.updated_by = admin.id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit(session, admin, "settings.update", "app_settings", "1", {"changes": diff}, ip=ip)
    from chat3d.events.bus import broadcast_after_commit
    from chat3d.events.store import iso_utc

    payload = public_settings(row)
    record_for_admins(
        session, ADMIN_SETTINGS_UPDATED, {**payload, "updatedBy": admin.email, "updatedAt": iso_utc(row.updated_at)}
    )
    broadcast_after_commit(session, public_settings_envelope(row))  # every open page; not stored
    return row


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def public_settings(row: AppSettings) -> dict[str, Any]:
    """The settings every page may know, keyed in camelCase like every event payload."""
    return {_camel(field): getattr(row, field) for field in SETTING_FIELDS}


def public_settings_envelope(row: AppSettings) -> dict[str, Any]:
    """The ephemeral `settings.public.updated` envelope (no id: not a stored event)."""
    from chat3d.events.store import iso_utc
    from chat3d.events.types import PUBLIC_SETTINGS_UPDATED

    return {
        "id": None,
        "type": PUBLIC_SETTINGS_UPDATED,
        "payload": public_settings(row),
        "createdAt": iso_utc(row.updated_at),
    }

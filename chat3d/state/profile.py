"""`/profile`: display name, marketing consent, sessions, and the email-confirmed account actions.

Name and consent change directly (no mail needed). Requests that involve a password (password change,
email change, deletion) are posted by the browser straight to `/api/profile/*`, so passwords never pass
through Reflex state; the server answers with what it mailed. Every handler reloads the user from the
session cookie first: a client can send any event, and a revoked session must stop here too.
"""

from __future__ import annotations

from datetime import datetime

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import User
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.domain.users import require_user
from chat3d.state.account_actions import api_call
from chat3d.state.auth import AuthState


def _device(agent: str | None) -> str:
    agent = agent or ""
    for needle, name in (
        ("Firefox", "Firefox"),
        ("Edg/", "Edge"),
        ("Chrome", "Chrome"),
        ("Safari", "Safari"),
        ("python", "Script"),
        ("curl", "Script"),
    ):
        if needle in agent:
            browser = name
            break
    else:
        browser = "Unknown browser" if agent else "Unknown device"
    for needle, name in (
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("Linux", "Linux"),
    ):
        if needle in agent:
            return f"{browser} on {name}"
    return browser


class ProfileState(AuthState):
    loaded: bool = False
    email: str = ""
    name_input: str = ""
    marketing: bool = False
    pending: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    sessions: list[dict[str, str]] = []
    # Feedback per section: a notice (what was mailed) and an error (the server's words).
    name_notice: str = ""
    password_notice: str = ""
    password_error: str = ""
    email_notice: str = ""
    email_error: str = ""
    export_notice: str = ""
    export_error: str = ""
    delete_notice: str = ""
    delete_error: str = ""
    sessions_notice: str = ""
    busy: str = ""
    delete_open: bool = False
    # Every share link of the user (chat3d.domain.shares.list_owned): label, chat link, status, expiry, views.
    share_links: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    shares_notice: str = ""

    def _user_or_redirect(self) -> User | None:
        user = self._current_user()
        self._set_user(user)
        return user

    def _current_jti(self) -> str | None:
        from chat3d.domain.sessions import resolve_token

        token = self._session_token()
        if not token:
            return None
        try:
            with session_scope() as session:
                return resolve_token(session, token)[1]
        except DomainError:
            return None

    def _reload(self, user: User) -> None:
        from chat3d.domain.account_actions import pending_actions
        from chat3d.domain.sessions import list_sessions

        jti = self._current_jti()
        with session_scope() as session:
            fresh = require_user(session, user.id)
            rows, _ = list_sessions(session, user.id, limit=50)
            pending = pending_actions(session, user.id)
        self.email = fresh.email
        self.name_input = fresh.display_name or ""
        self.marketing = bool(fresh.marketing_consent)
        self.pending = [
            {"label": p["label"] or p["type"], "expires": dates.stamp(datetime.fromisoformat(p["expiresAt"]))}
            for p in pending
        ]
        self.sessions = [
            {
                "id": str(r.id),
                "device": _device(r.user_agent),
                "ip": r.ip or "",
                "created": dates.stamp(r.created_at),
                "seen": dates.stamp(r.last_seen_at),
                "current": "1" if r.jti == jti else "",
            }
            for r in rows
        ]
        self._reload_shares(user)
        self.loaded = True

    def _reload_shares(self, user: User) -> None:
        from chat3d.domain import shares
        from chat3d.state.versions import expiry_label

        with session_scope() as session:
            owned = shares.list_owned(session, user.id)
        rows = []
        for o in owned:
            sh = o.share
            status = "revoked" if sh.revoked_at else "expired" if shares.is_expired(sh) else "active"
            version = f"Version {o.version}" if o.version else "A deleted version"
            rows.append(
                {
                    "id": str(sh.id),
                    "chat": o.chat_name or "A deleted chat",
                    "chat_url": f"/chat/{sh.context_id}",
                    "label": version + (f" · {sh.title}" if sh.title else ""),
                    "status": status,
                    "expiry": expiry_label(sh.expires_at, revoked=sh.revoked_at is not None),
                    "views": f"{sh.views} view" + ("" if sh.views == 1 else "s"),
                    "active": "1" if status == "active" else "",
                }
            )
        self.share_links = rows

    @rx.event
    def on_load(self):
        self.loaded = False
        for field in (
            "name_notice",
            "password_notice",
            "password_error",
            "email_notice",
            "email_error",
            "export_notice",
            "export_error",
            "delete_notice",
            "delete_error",
            "sessions_notice",
            "shares_notice",
            "busy",
        ):
            setattr(self, field, "")
        self.delete_open = False
        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        self._reload(user)

    # --- direct changes -------------------------------------------------------------------------------------

    @rx.event
    def set_name_input(self, value: str):
        self.name_input = value[:200]

    @rx.event
    def save_name(self, _form: dict):
        from chat3d.domain.account_actions import update_profile

        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        try:
            with session_scope() as session:
                fresh = update_profile(session, require_user(session, user.id), display_name=self.name_input)
                self.display_name = fresh.display_name
                self.name_input = fresh.display_name
            self.name_notice = "Saved."
        except DomainError as exc:
            self.name_notice = exc.message

    @rx.event
    def set_marketing(self, checked: bool):
        from chat3d.domain.account_actions import update_profile

        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        with session_scope() as session:
            update_profile(session, require_user(session, user.id), marketing_consent=bool(checked))
        self.marketing = bool(checked)

    # --- sessions ----------------------------------------------------------------------------------------------

    @rx.event
    def revoke_session(self, session_id: str):
        import uuid

        from chat3d.domain.sessions import revoke_session

        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        try:
            with session_scope() as session:
                revoke_session(session, user.id, uuid.UUID(session_id))
            self.sessions_notice = "That session is signed out."
        except (DomainError, ValueError):
            self.sessions_notice = "That session had already ended."
        self._reload(user)

    @rx.event
    def revoke_share(self, share_id: str):
        """Revoke one of the user's links (the domain checks it is theirs)."""
        from chat3d.domain import shares

        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        try:
            with session_scope() as session:
                shares.revoke_share(session, user.id, share_id)
            self.shares_notice = "That link no longer works."
        except DomainError as exc:
            self.shares_notice = exc.message
        self._reload_shares(user)

    @rx.event
    def revoke_others(self):
        from chat3d.domain.sessions import revoke_other_sessions

        user = self._user_or_redirect()
        jti = self._current_jti()
        if user is None or jti is None:
            return self._login_redirect()
        with session_scope() as session:
            n = revoke_other_sessions(session, user.id, jti)
        self.sessions_notice = f"Signed out {n} other session{'s' if n != 1 else ''}."
        self._reload(user)

    @rx.event
    def sign_out_everywhere(self):
        from chat3d.domain.sessions import revoke_all_sessions

        user = self._user_or_redirect()
        if user is None:
            return self._login_redirect()
        with session_scope() as session:
            revoke_all_sessions(session, user.id)
        return AuthState.sign_out

    # --- requests confirmed by mail -------------------------------------------------------------------------------

    def _post(self, key: str, path: str, form_id: str | None = None, fields: dict[str, str] | None = None):
        if self._user_or_redirect() is None:
            return self._login_redirect()
        setattr(self, f"{key}_notice", "")
        setattr(self, f"{key}_error", "")
        self.busy = key
        return rx.call_script(
            api_call(path, form_id=form_id, fields=fields), callback=getattr(ProfileState, f"{key}_done")
        )

    def _done(self, key: str, result: dict, *, reset_form: str | None = None):
        self.busy = ""
        if result.get("status") == 202:
            setattr(self, f"{key}_notice", result.get("message") or "Check your mailbox.")
            user = self._user_or_redirect()
            if user is not None:
                self._reload(user)
            if reset_form:
                return rx.call_script(f"document.getElementById('{reset_form}')?.reset()")
        elif result.get("status") == 401:
            return self._login_redirect()
        else:
            setattr(self, f"{key}_error", result.get("error") or "Something went wrong. Try again.")

    @rx.event
    def request_password(self, _form: dict):
        return self._post(
            "password",
            "/api/profile/reset-password/request",
            "password-form",
            {"currentPassword": "current_password", "newPassword": "new_password"},
        )

    @rx.event
    def password_done(self, result: dict):
        return self._done("password", result, reset_form="password-form")

    @rx.event
    def request_email(self, _form: dict):
        return self._post(
            "email",
            "/api/profile/change-email/request",
            "email-form",
            {"newEmail": "new_email", "currentPassword": "email_password"},
        )

    @rx.event
    def email_done(self, result: dict):
        return self._done("email", result, reset_form="email-form")

    @rx.event
    def request_export(self):
        return self._post("export", "/api/profile/export-data/request")

    @rx.event
    def export_done(self, result: dict):
        return self._done("export", result)

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value
        if value:
            self.delete_error = ""

    @rx.event
    def request_delete(self, _form: dict):
        return self._post(
            "delete", "/api/profile/delete-account/request", "delete-form", {"currentPassword": "delete_password"}
        )

    @rx.event
    def delete_done(self, result: dict):
        out = self._done("delete", result)
        if result.get("status") == 202:
            self.delete_open = False
        return out

"""Who is signed in, for every page: read from the HttpOnly session cookie, re-checked on each load.

The cookie reaches Reflex in the websocket's headers; the token itself stays in a backend-only field.
Protected pages call `require_login` / `require_admin` on load; sensitive handlers call `_current_user()`
again, because a client can send any event.
"""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

import reflex as rx

from chat3d.components.api_script import navigate, post_form_json, post_json
from chat3d.db.engine import session_scope
from chat3d.db.models import Role, User, UserStatus
from chat3d.domain.errors import DomainError
from chat3d.events import types as ev

SESSION_COOKIE = "chat3d_session"


def safe_next(value: str | None, default: str = "/chat") -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


class AuthState(rx.State):
    """The signed-in user as the pages need it; empty when signed out."""

    user_id: str = ""
    user_email: str = ""
    user_role: str = ""
    display_name: str = ""
    auth_checked: bool = False

    @rx.var
    def is_signed_in(self) -> bool:
        return bool(self.user_id)

    @rx.var
    def is_admin(self) -> bool:
        return self.user_role == Role.admin.value

    @rx.var
    def user_label(self) -> str:
        return self.display_name or self.user_email

    def _session_token(self) -> str:
        raw = self.router.headers.cookie or ""
        cookie = SimpleCookie()
        try:
            cookie.load(raw)
        except Exception:
            return ""
        morsel = cookie.get(SESSION_COOKIE)
        return morsel.value if morsel else ""

    def _current_user(self) -> User | None:
        """Reload the user behind this tab's session cookie (deactivation and role changes act at once)."""
        from chat3d.domain.sessions import user_from_token

        token = self._session_token()
        if not token:
            return None
        try:
            with session_scope() as session:
                return user_from_token(session, token)
        except DomainError:
            return None

    def _set_user(self, user: User | None) -> None:
        values = {
            "user_id": str(user.id) if user else "",
            "user_email": user.email if user else "",
            "user_role": user.role if user else "",
            "display_name": (user.display_name or "") if user else "",
            "auth_checked": True,
        }
        for name, value in values.items():
            if getattr(self, name) != value:  # Reflex sends every assigned var: unchanged ones stay out of the delta
                setattr(self, name, value)

    def _current_user_id(self) -> uuid.UUID | None:
        user = self._current_user()
        self._set_user(user)
        return user.id if user else None

    def _login_redirect(self):
        path = self.router.url.path or "/"
        query = self.router.url.query
        target = path + (f"?{query}" if query else "")
        return rx.redirect(f"/login?next={quote(target, safe='')}")

    @rx.event
    def load_user(self):
        """For public pages: know who is signed in without requiring it."""
        self._set_user(self._current_user())

    @rx.event
    def require_login(self):
        user = self._current_user()
        self._set_user(user)
        if user is None:
            return self._login_redirect()

    @rx.event
    def require_admin(self):
        user = self._current_user()
        self._set_user(user)
        if user is None:
            return self._login_redirect()
        if user.role != Role.admin.value:
            return rx.redirect("/chat")

    # --- the live stream (chat3d/components/event_stream.py) -------------------------------------------

    @rx.event
    def on_account_event(self, event: dict):
        """`account.status.changed` for this user: when the account is no longer usable, leave for /login.

        The event only triggers a re-check (a client can send any event): the session is looked up again,
        and an active user with a live session stays where they are. Suspension and self-deletion revoke
        every session in the same transaction that records the event, so the re-check fails at once.
        """
        if not isinstance(event, dict) or event.get("type") not in (ev.ACCOUNT_STATUS_CHANGED, ev.ACCOUNT_ROLE_CHANGED):
            return  # a role change (issue 24) re-reads the user too: role-gated pages follow at once
        user = self._current_user()
        if user is not None and user.status == UserStatus.active.value:
            self._set_user(user)
            return
        self._set_user(None)
        payload = event.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        gone = payload.get("status") not in (None, UserStatus.active.value)
        return rx.call_script(navigate("/login?reason=deactivated" if gone else "/login"))

    @rx.event
    def stream_closed(self):
        """The browser gave up on the event stream (it refused us): signed out meanwhile? Go and sign in."""
        if not self.user_id:
            return
        user = self._current_user()
        if user is None:
            self._set_user(None)
            return self._login_redirect()

    @rx.event
    def sign_out(self):
        return rx.call_script(post_json("/api/auth/logout"), callback=AuthState.signed_out)

    @rx.event
    def signed_out(self, _result: dict):
        self._set_user(None)
        return rx.call_script(navigate("/login"))


LOGIN_REASONS = {
    "deactivated": "Your account has been deactivated, so you were signed out. If you think this is a mistake, "
    "contact the administrators."
}


class LoginState(rx.State):
    """The sign-in form: the browser posts it to /api/auth/login; this shows progress and the server's answer."""

    error: rx.Field[str] = rx.field("")
    submitting: bool = False

    @rx.var
    def next_path(self) -> str:
        return safe_next(self.router.url.query_parameters.get("next"))

    @rx.var
    def notice(self) -> str:
        """Why the user landed here (`?reason=`), e.g. signed out because an admin suspended the account."""
        return LOGIN_REASONS.get(self.router.url.query_parameters.get("reason", ""), "")

    @rx.event
    def on_load(self):
        self.error = ""
        self.submitting = False

    @rx.event
    def submit(self, _form: dict):
        self.error = ""
        self.submitting = True
        return rx.call_script(
            post_form_json("/api/auth/login", "login-form", {"email": "email", "password": "password"}),
            callback=LoginState.finished,
        )

    @rx.event
    def finished(self, result: dict):
        self.submitting = False
        if result.get("status") == 200:
            return rx.call_script(navigate(self.next_path))
        self.error = result.get("error") or "Sign-in failed. Try again."


class RegisterState(rx.State):
    """The registration form; `?token=` (from an invitation or waitlist mail) pre-fills and locks the email."""

    error: rx.Field[str] = rx.field("")
    submitting: bool = False
    token_email: str = ""
    # The server's "check your mail" answer (202): the form is replaced by it.
    sent: str = ""

    @rx.var
    def registration_token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.event
    def on_load(self):
        from chat3d.domain.registration import email_for_registration_token

        self.error = ""
        self.submitting = False
        self.token_email = ""
        self.sent = ""
        token = self.registration_token
        if token:
            with session_scope() as session:
                self.token_email = email_for_registration_token(session, token) or ""
            if not self.token_email:
                self.error = "This registration link is invalid, used or expired. Ask for a new one."

    @rx.event
    def submit(self, _form: dict):
        self.error = ""
        self.submitting = True
        return rx.call_script(
            post_form_json(
                "/api/auth/register",
                "register-form",
                {"email": "email", "password": "password", "displayName": "display_name", "registrationToken": "token"},
            ),
            callback=RegisterState.finished,
        )

    @rx.event
    def finished(self, result: dict):
        self.submitting = False
        if result.get("status") in (200, 201):
            return rx.call_script(navigate("/chat"))
        if result.get("status") == 202:
            from chat3d.domain.registration import CHECK_MAIL

            self.sent = CHECK_MAIL
            return
        self.error = result.get("error") or "Registration failed. Try again."

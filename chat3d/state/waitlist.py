"""Waitlist pages' state: join, confirm (only on a button press: mail scanners prefetch links), status;
and the home page's call to action, which follows the waitlist policy."""

from __future__ import annotations

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import dates
from chat3d.domain.errors import DomainError

STATUS_TEXT = {
    "pending_email_confirmation": "Waiting for you to confirm your email address.",
    "pending_admin_approval": "Your email is confirmed. An administrator will review your request; "
    "you will get a registration link by email once it is approved.",
    "approved": "Approved! We emailed you a registration link (valid for 7 days).",
    "rejected": "We cannot offer you an account at the moment. Thank you for your patience.",
}
STATUS_LABEL = {
    "pending_email_confirmation": "Email not confirmed",
    "pending_admin_approval": "Waiting for approval",
    "approved": "Approved",
    "rejected": "Not approved",
}


class HomeCtaState(rx.State):
    """Whether sign-ups go through the waitlist (read from the public config)."""

    waitlist_enabled: bool = False
    loaded: bool = False

    @rx.event
    def load(self):
        from chat3d.domain.policy import public_config

        with session_scope() as session:
            self.waitlist_enabled = bool(public_config(session)["waitlist_enabled"])
        self.loaded = True


class WaitlistJoinState(rx.State):
    submitted: bool = False
    submitting: bool = False
    error: rx.Field[str] = rx.field("")
    message: str = ""

    @rx.event
    def on_load(self):
        self.submitted = False
        self.submitting = False
        self.error = ""
        self.message = ""

    @rx.event
    def submit(self, form: dict):
        from chat3d.domain.waitlist import JOIN_ANSWER, join_waitlist

        self.error = ""
        email = str(form.get("email") or "")
        consent = form.get("marketing_consent") in ("on", True, "true")
        try:
            with session_scope() as session:
                join_waitlist(session, email, consent, ip=self.router.session.client_ip)
        except DomainError as exc:
            self.error = exc.message
            return
        self.submitted = True
        self.message = JOIN_ANSWER


class WaitlistConfirmState(rx.State):
    """Loading the page only previews the link; the Confirm button uses it."""

    valid: bool = False
    checked: bool = False
    email: str = ""
    confirmed: bool = False
    status: str = ""
    status_text: str = ""
    status_token: str = ""
    error: rx.Field[str] = rx.field("")

    @rx.var
    def token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.event
    def on_load(self):
        from chat3d.domain.waitlist import CONFIRM_REFUSED, entry_for_confirmation, mask_email

        self.confirmed, self.error, self.status, self.status_text, self.status_token = False, "", "", "", ""
        with session_scope() as session:
            entry = entry_for_confirmation(session, self.token) if self.token else None
            self.valid = entry is not None
            self.email = mask_email(entry.email) if entry else ""
        if not self.valid:
            self.error = CONFIRM_REFUSED
        self.checked = True

    @rx.event
    def confirm(self):
        from chat3d.domain.waitlist import confirm_email, status_token

        try:
            with session_scope() as session:
                entry = confirm_email(session, self.token)
                self.status, self.status_token = entry.status, status_token(entry)
        except DomainError as exc:
            self.error = exc.message
            self.valid = False
            return
        self.confirmed = True
        self.status_text = STATUS_TEXT.get(self.status, "")


class WaitlistStatusState(rx.State):
    found: bool = False
    checked: bool = False
    status: str = ""
    label: str = ""
    text: str = ""
    email: str = ""
    joined: str = ""
    confirmed_at: str = ""
    decided_at: str = ""
    error: rx.Field[str] = rx.field("")

    @rx.event
    def on_load(self):
        from chat3d.domain.waitlist import entry_from_status_token, status_view

        token = self.router.url.query_parameters.get("token", "")
        self.error = ""
        try:
            with session_scope() as session:
                view = status_view(entry_from_status_token(session, token))
        except DomainError as exc:
            self.found, self.error, self.checked = False, exc.message, True
            return
        self.found, self.checked = True, True
        self.status, self.email = view.status, view.email
        self.label, self.text = STATUS_LABEL.get(view.status, view.status), STATUS_TEXT.get(view.status, "")
        self.joined, self.confirmed_at, self.decided_at = (
            dates.stamp(view.created_at),
            dates.stamp(view.email_confirmed_at),
            dates.stamp(view.decided_at),
        )

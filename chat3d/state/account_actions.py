"""State of the mail-link landing pages and the public account forms.

`/profile/actions/confirm?token=` shows what a link is for (read-only preview: mail scanners prefetch
links) and confirms only when the Confirm button is pressed, through `POST /api/profile/actions/confirm`
from the browser so the session cookie (if any) decides "this session stays, the others end".
`/reset-password`, `/forgot-password` and `/reactivate` post their forms straight to the REST API: the
passwords go from the form to the server and never through Reflex state.
"""

from __future__ import annotations

import json

import reflex as rx

from chat3d.components.api_script import CSRF_HEADER
from chat3d.db.engine import session_scope


def api_call(
    path: str,
    *,
    form_id: str | None = None,
    fields: dict[str, str] | None = None,
    body: dict | None = None,
    same: tuple[str, str] | None = None,
) -> str:
    """JS posting JSON to our API; resolves to {status, error, reason, message, signedOut, type}.

    `fields` maps JSON keys to input names of form `form_id`; `body` adds fixed values; `same` names two
    inputs that must match (a repeated password), checked before anything is sent.
    """
    pairs = [
        f"{json.dumps(k)}: (f && f.elements[{json.dumps(n)}] ? f.elements[{json.dumps(n)}].value : null)"
        for k, n in (fields or {}).items()
    ]
    pairs += [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in (body or {}).items()]
    check = ""
    if same:
        a, b = (f"(f.elements[{json.dumps(n)}] || {{}}).value" for n in same)
        check = (
            f"if ({a} !== {b}) return Promise.resolve({{status: 0, error: 'The two passwords do not match.',"
            " reason: null, message: null, signedOut: false, type: null});"
        )
    form = f"document.getElementById({json.dumps(form_id)})" if form_id else "null"
    return (
        "(() => { const f = "
        + form
        + "; "
        + check
        + " return fetch("
        + json.dumps(path)
        + ", {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/json', " + json.dumps(CSRF_HEADER) + ": '1'},"
        " body: JSON.stringify({" + ", ".join(pairs) + "})})"
        ".then(async r => { const b = await r.json().catch(() => ({}));"
        " return {status: r.status, error: b.error || null, reason: (b.detail && b.detail.reason) || null,"
        " message: b.message || null, signedOut: !!b.signedOut, type: b.type || null}; })"
        ".catch(e => ({status: 0, error: 'Cannot reach Chat3D: ' + e.message, reason: null, message: null,"
        " signedOut: false, type: null})); })()"
    )


WHAT_HAPPENS = {
    "password_reset": "Your password changes to the new one you chose. Your other sessions are signed out.",
    "email_change": "Your account's email address changes to the new one. Sign-in and mail use it from then on.",
    "data_export": "We build a ZIP archive of your profile, every chat with its messages, every model file "
    "with its source code, and your uploads. We email you a download link, valid for 7 days.",
    "account_delete": "Your account is deactivated at once and you are signed out everywhere. After 30 days it "
    "is deleted for good with every chat, model and upload. Until then you can reactivate it.",
    "account_reactivate": "Your account becomes active again, with all your chats and models as you left them.",
}

# A preview's status → the refusal reason the confirm API would give.
STATUS_REASON = {"completed": "used"}

NEXT_STEPS = {
    "invalid": ("Go to your profile", "/profile"),
    "used": ("Go to your profile", "/profile"),
    "expired": ("Start again from your profile", "/profile"),
    "cancelled": ("Go to your profile", "/profile"),
    "wrong_user": ("Sign out", "/login"),
    "not_applicable": ("Go to the home page", "/"),
}


class ActionConfirmState(rx.State):
    """`/profile/actions/confirm?token=`: preview, then Confirm, then the outcome or why not."""

    phase: str = "loading"  # loading | ready | working | done | refused
    action_type: str = ""
    label: str = ""
    masked_email: str = ""
    message: str = ""
    reason: str = ""
    signed_out: bool = False

    @rx.var
    def token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.var
    def subtitle(self) -> str:
        if self.phase == "done":
            return "Done. Here is what happened."
        if self.phase == "refused":
            return "Nothing was changed. Here is why, and what to do next."
        return "You opened a link from a Chat3D email. Nothing has changed yet."

    @rx.var
    def what_happens(self) -> str:
        return WHAT_HAPPENS.get(self.action_type, "")

    @rx.var
    def next_label(self) -> str:
        if self.phase == "done":
            if self.action_type == "account_delete":
                return "Changed your mind? Reactivate"
            return "Sign in" if self.signed_out else "Back to your profile"
        reason = self.reason
        if reason in ("expired", "cancelled", "invalid", "used") and self.action_type == "account_reactivate":
            return "Ask for a new reactivation link"
        if reason in ("expired", "cancelled", "invalid") and self.action_type == "password_reset":
            return "Reset your password"
        return NEXT_STEPS.get(reason, ("Go to the home page", "/"))[0]

    @rx.var
    def next_href(self) -> str:
        if self.phase == "done":
            if self.action_type == "account_delete":
                return "/reactivate"
            return "/login" if self.signed_out else "/profile"
        reason = self.reason
        if reason in ("expired", "cancelled", "invalid", "used") and self.action_type == "account_reactivate":
            return "/reactivate"
        if reason in ("expired", "cancelled", "invalid") and self.action_type == "password_reset":
            return "/forgot-password"
        return NEXT_STEPS.get(reason, ("", "/"))[1]

    @rx.event
    def on_load(self):
        """Read-only: what the link is for. Nothing changes until the button is pressed."""
        from chat3d.domain.account_actions import preview_action

        self.phase, self.message, self.reason, self.signed_out = "loading", "", "", False
        with session_scope() as session:
            info = preview_action(session, self.token)
        self.action_type = info.get("type") or ""
        self.label = info.get("label") or ""
        self.masked_email = info.get("newEmailMasked") or ""
        status = info["status"]
        if status == "pending" and info.get("needsPassword"):
            return rx.redirect(f"/reset-password?token={self.token}")
        if status == "pending":
            self.phase = "ready"
            return
        self._refused(STATUS_REASON.get(status, status))

    def _refused(self, reason: str, message: str = "") -> None:
        from chat3d.domain.account_actions import _REFUSALS

        self.phase = "refused"
        self.reason = reason
        self.message = message or _REFUSALS.get(reason, "This link cannot be used.")

    @rx.event
    def confirm(self):
        if self.phase != "ready":
            return
        self.phase = "working"
        return rx.call_script(
            api_call("/api/profile/actions/confirm", body={"token": self.token}), callback=ActionConfirmState.finished
        )

    @rx.event
    def finished(self, result: dict):
        if result.get("status") == 200:
            self.phase = "done"
            self.message = result.get("message") or "Done."
            self.signed_out = bool(result.get("signedOut"))
            return
        if result.get("reason"):
            self._refused(result["reason"], result.get("error") or "")
            return
        # A rule refused it (e.g. the new address was taken meanwhile): the link may still be usable later.
        self.phase = "refused"
        self.reason = "not_applicable"
        self.message = result.get("error") or "Something went wrong. Try again."


class ResetPasswordState(rx.State):
    """`/reset-password?token=`: a new-password form for a reset link (forgot password or an admin's reset)."""

    phase: str = "loading"  # loading | ready | working | done | refused
    message: str = ""
    error: rx.Field[str] = rx.field("")

    @rx.var
    def token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.event
    def on_load(self):
        from chat3d.domain.account_actions import _REFUSALS, preview_action

        self.error = ""
        self.message = ""
        with session_scope() as session:
            info = preview_action(session, self.token)
        if info["status"] == "pending" and info.get("needsPassword"):
            self.phase = "ready"
        elif info["status"] == "pending":  # a password *change* link: the confirm page handles it
            return rx.redirect(f"/profile/actions/confirm?token={self.token}")
        else:
            self.phase = "refused"
            self.message = _REFUSALS.get(STATUS_REASON.get(info["status"], info["status"]), "This link cannot be used.")

    @rx.event
    def submit(self, _form: dict):
        self.error = ""
        self.phase = "working"
        return rx.call_script(
            api_call(
                "/api/auth/password-reset/confirm",
                form_id="reset-form",
                fields={"newPassword": "new_password"},
                body={"token": self.token},
                same=("new_password", "repeat_password"),
            ),
            callback=ResetPasswordState.finished,
        )

    @rx.event
    def finished(self, result: dict):
        if result.get("status") == 200:
            self.phase = "done"
            self.message = result.get("message") or "Your password is changed."
            return
        if result.get("reason"):
            from chat3d.domain.account_actions import _REFUSALS

            self.phase = "refused"
            self.message = result.get("error") or _REFUSALS.get(result["reason"], "This link cannot be used.")
            return
        self.phase = "ready"
        self.error = result.get("error") or "Something went wrong. Try again."


class EmailFormState(rx.State):
    """`/forgot-password` and `/reactivate`: one email field; the answer is the same for every address."""

    sent_message: str = ""
    error: rx.Field[str] = rx.field("")
    submitting: bool = False

    @rx.event
    def on_load(self):
        self.sent_message = ""
        self.error = ""
        self.submitting = False

    def _post(self, path: str, form_id: str):
        self.error = ""
        self.submitting = True
        return rx.call_script(
            api_call(path, form_id=form_id, fields={"email": "email"}), callback=EmailFormState.finished
        )

    @rx.event
    def submit_forgot(self, _form: dict):
        return self._post("/api/auth/password-reset/request", "forgot-form")

    @rx.event
    def submit_reactivate(self, _form: dict):
        return self._post("/api/profile/reactivate/request", "reactivate-form")

    @rx.event
    def finished(self, result: dict):
        self.submitting = False
        if result.get("status") == 202:
            self.sent_message = result.get("message") or "Check your mailbox."
        else:
            self.error = result.get("error") or "Something went wrong. Try again."

"""The invitation manager's state (embedded in /profile): the user's invitations, used/quota, invite, revoke.

Each handler reloads the signed-in user from the session cookie; the domain enforces quota and policy.
"""

from __future__ import annotations

import re

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import User
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.domain.users import require_user
from chat3d.events import types as ev
from chat3d.state.auth import AuthState

STATUS_LABELS = {
    "pending": "Pending",
    "waitlisted": "On the waitlist",
    "registration_sent": "Link sent",
    "accepted": "Joined",
    "expired": "Expired",
    "revoked": "Revoked",
}
LIVE = {"pending", "waitlisted", "registration_sent"}


class InvitationState(AuthState):
    items: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    used: int = 0
    quota: int = -1  # -1: not limited (admins)
    next_on: str = ""  # the day one more invitation mail becomes available ("" when none was sent)
    enabled: bool = True
    waitlist_required: bool = False
    emails: str = ""
    error: rx.Field[str] = rx.field("")
    notice: str = ""
    loaded: bool = False

    @rx.var
    def quota_text(self) -> str:
        """ "N left, next on <date>": the quota counts mails sent in the last 30 days."""
        if self.quota < 0:
            return f"{self.used} sent in 30 days"
        left = max(0, self.quota - self.used)
        return f"{left} left, next on {self.next_on}" if self.next_on else f"{left} left"

    @rx.var
    def can_invite(self) -> bool:
        return self.enabled and (self.quota < 0 or self.used < self.quota)

    def _user(self) -> User | None:
        user = self._current_user()
        self._set_user(user)
        if user is None:
            self.error = "Sign in to manage invitations."
        return user

    def _refresh(self, user: User) -> None:
        from chat3d.domain.invitations import list_invitations, usage

        with session_scope() as session:
            rows, _ = list_invitations(session, user, limit=200)
            u = usage(session, user)
        self.items = [
            {
                "id": str(r.id),
                "email": r.email,
                "status": r.status,
                "label": STATUS_LABELS.get(r.status, r.status),
                "sent": dates.day(r.created_at),
                "live": "1" if r.status in LIVE else "",
            }
            for r in rows
        ]
        self.used, self.quota = u.used, (-1 if u.quota is None else u.quota)
        self.next_on = dates.long_day(u.next_at)
        self.enabled, self.waitlist_required = u.enabled, u.waitlist_required
        self.loaded = True

    @rx.event
    def load(self):
        user = self._user()
        if user is not None:
            self.error = ""
            self._refresh(user)

    @rx.event
    def on_event(self, event: dict):
        """`invitation.updated` or `settings.public.updated` (a broadcast, or the bridge after a reconnect):
        an open invitation manager re-reads its list, quota and the invitation settings."""
        if (
            not isinstance(event, dict)
            or not self.loaded
            or event.get("type") not in (ev.INVITATION_UPDATED, ev.PUBLIC_SETTINGS_UPDATED)
        ):
            return
        user = self._user()
        if user is not None:
            self._refresh(user)

    @rx.event
    def set_emails(self, value: str):
        self.emails = value[:5000]

    @rx.event
    def invite(self, _form: dict | None = None):
        from chat3d.domain.invitations import create_invitations

        user = self._user()
        if user is None:
            return
        self.error = self.notice = ""
        emails = [e for e in re.split(r"[\s,;]+", self.emails) if e]
        try:
            with session_scope() as session:
                created = create_invitations(
                    session, require_user(session, user.id), emails, ip=self.router.session.client_ip or None
                )
                count = len(created)
        except DomainError as exc:
            self.error = exc.message
            return
        self.emails = ""
        self.notice = f"Invited {count} {'person' if count == 1 else 'people'}."
        self._refresh(user)

    @rx.event
    def revoke(self, invitation_id: str):
        from chat3d.domain.invitations import revoke_invitation

        user = self._user()
        if user is None:
            return
        self.error = self.notice = ""
        try:
            with session_scope() as session:
                revoke_invitation(
                    session, require_user(session, user.id), invitation_id, ip=self.router.session.client_ip or None
                )
        except DomainError as exc:
            self.error = exc.message
            return
        self.notice = "Invitation revoked; its link no longer works."
        self._refresh(user)

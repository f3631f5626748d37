"""The admin console's state. Every handler reloads the signed-in user and refuses non-admins (a client can
send any event); changes go through chat3d.domain, which writes the audit log.

Filters live in the URL (`/admin?tab=users&q=ann&status=active&page=2`): loading the page reads them,
changing one rewrites the address with history.replaceState, so a reload or a shared link shows the same view.

Changes by other admins appear without a reload, from the tab's one event stream (app_shell's bridge):
`admin.settings.updated` re-reads the settings form, `admin.waitlist.updated` (approvals, rejections) and a
`notification.created` of kind `waitlist.*` (a newly confirmed entry) re-read the waitlist tab and dashboard.
Events only say "look again": the console re-reads the database as the re-checked admin.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from sqlmodel import col, select

from chat3d.db.engine import session_scope
from chat3d.db.models import Role, User
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.events import types as ev
from chat3d.state.auth import AuthState

PAGE_SIZE = 20
TABS = ("dashboard", "users", "waitlist", "settings", "models", "audit", "security", "outbox")
ALL = "all"
ROW_KEYS = (
    "id",
    "email",
    "name",
    "role",
    "status",
    "reason",
    "created",
    "last_login",
    "self",
    "joined",
    "confirmed",
    "invited_by",
    "marketing",
    "at",
    "actor",
    "action",
    "target",
    "details",
    "ip",
    "type",
    "to",
    "subject",
    "attempts",
    "error",
)


def _short(details: dict[str, Any]) -> str:
    text = json.dumps(details, default=str, separators=(", ", ": "))
    return text if len(text) <= 160 else text[:157] + "…"


class AdminState(AuthState):
    tab: str = "dashboard"
    q: str = ""
    status_filter: str = ALL
    role_filter: str = ALL
    action_filter: str = ALL
    page: int = 1
    total: int = 0
    rows: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    loading: bool = False
    notice: str = ""
    error: rx.Field[str] = rx.field("")

    kpis: list[dict[str, str]] = []
    breakdowns: list[dict[str, Any]] = []

    selected: rx.Field[list[str]] = rx.field(default_factory=list)

    s_waitlist_enabled: bool = False
    s_invitations_enabled: bool = True
    s_invitation_waitlist_required: bool = False
    s_quota: str = "5"
    s_updated: str = ""
    s_stamp: str = ""
    s_changed_elsewhere: str = ""

    deactivate_id: str = ""
    deactivate_email: str = ""
    deactivate_reason: str = ""

    # --- guards and URL -----------------------------------------------------------------------------------

    def _admin(self) -> User | None:
        user = self._current_user()
        self._set_user(user)
        if user is None or user.role != Role.admin.value:
            self.error = "Only admins may do this."
            return None
        return user

    @property
    def _ip(self) -> str | None:
        return self.router.session.client_ip or None

    def _url_params(self) -> dict[str, str]:
        params: dict[str, str] = {"tab": self.tab}
        if self.q:
            params["q"] = self.q
        if self.status_filter != ALL:
            params["status"] = self.status_filter
        if self.role_filter != ALL:
            params["role"] = self.role_filter
        if self.action_filter != ALL:
            params["action"] = self.action_filter
        if self.page > 1:
            params["page"] = str(self.page)
        return params

    def _push_url(self):
        return rx.call_script(
            f"window.history.replaceState(null, '', {json.dumps('/admin?' + urlencode(self._url_params()))})"
        )

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def has_prev(self) -> bool:
        return self.page > 1

    @rx.var
    def has_next(self) -> bool:
        return self.page * PAGE_SIZE < self.total

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected)

    # --- loading ---------------------------------------------------------------------------------------------

    @rx.event
    def on_load(self):
        user = self._current_user()
        self._set_user(user)
        if user is None:
            return self._login_redirect()
        if user.role != Role.admin.value:
            return rx.redirect("/chat")
        params = self.router.url.query_parameters
        tab = params.get("tab", "dashboard")
        self.tab = tab if tab in TABS else "dashboard"
        self.q = params.get("q", "")[:200]
        self.status_filter = params.get("status", ALL) or ALL
        self.role_filter = params.get("role", ALL) or ALL
        self.action_filter = params.get("action", ALL) or ALL
        try:
            self.page = max(1, int(params.get("page", "1")))
        except ValueError:
            self.page = 1
        self.notice = self.error = self.s_changed_elsewhere = ""
        self._reload()
        self._load_settings()

    def _reload(self) -> None:
        self.error = ""
        self.rows = []
        self.selected = []
        loader = {
            "dashboard": self._load_dashboard,
            "users": self._load_users,
            "waitlist": self._load_waitlist,
            "settings": self._load_settings,
            "audit": self._load_audit,
            "security": self._load_security,
            "outbox": self._load_outbox,
            "models": lambda: None,  # the Models tab loads itself (chat3d.state.admin_models) when it mounts
        }[self.tab]
        try:
            loader()
        except DomainError as exc:
            self.error = exc.message
        # One row shape for every tab: a render of one tab's table with another tab's rows (a stale frame while
        # the tab and rows change) must never meet a missing key.
        self.rows = [dict.fromkeys(ROW_KEYS, "") | row for row in self.rows]

    @property
    def _offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def _filter(self, value: str) -> str | None:
        return None if value == ALL else value

    def _load_dashboard(self) -> None:
        from chat3d.domain.metrics import dashboard_metrics

        with session_scope() as session:
            m = dashboard_metrics(session)
        today, week, total = m["queriesToday"], m["queries7d"], m["allTime"]
        self.kpis = [
            {
                "label": "Active users",
                "value": str(m["users"].get("active", 0)),
                "hint": f"{sum(m['users'].values())} accounts",
            },
            {
                "label": "Awaiting approval",
                "value": str(m["waitlist"].get("pending_admin_approval", 0)),
                "hint": "waitlist",
            },
            {
                "label": "Queries today",
                "value": str(today["total"]),
                "hint": f"{today['succeeded']} ok · {today['failed']} failed · {today['rendered']} rendered",
            },
            {
                "label": "Queries, 7 days",
                "value": str(week["total"]),
                "hint": f"{week['succeeded']} ok · {week['failed']} failed · {week['rendered']} rendered",
            },
            {
                "label": "Tokens, 7 days",
                "value": f"{week['inputTokens'] + week['outputTokens']:,}",
                "hint": f"in {week['inputTokens']:,} · out {week['outputTokens']:,}",
            },
            {"label": "Cost, 7 days", "value": f"${week['costUsd']:.2f}", "hint": f"all time ${total['costUsd']:.2f}"},
            {
                "label": "Stored files",
                "value": _bytes(m["storage"]["bytes"]),
                "hint": f"{m['storage']['files']:,} files",
            },
            {
                "label": "Per-user limits",
                "value": f"{m['limits']['concurrentQueriesPerUser']} running",
                "hint": f"{m['limits']['dailyTokensPerUser']:,} tokens · ${m['limits']['dailyCostUsdPerUser']:.2f} a day "
                "(MAX_CONCURRENT_QUERIES_PER_USER, DAILY_*_BUDGET_PER_USER)",
            },
        ]

        def group(title: str, counts: dict[str, int]) -> dict[str, Any]:
            return {
                "title": title,
                "items": [{"label": k.replace("_", " "), "value": str(v)} for k, v in counts.items()],
            }

        self.breakdowns = [
            group("Users by status", m["users"]),
            group("Waitlist by status", m["waitlist"]),
            group("Invitations by status", m["invitations"]),
        ]

    def _load_users(self) -> None:
        from chat3d.domain.admin import list_users

        with session_scope() as session:
            users, self.total = list_users(
                session,
                search=self.q,
                status=self._filter(self.status_filter),
                role=self._filter(self.role_filter),
                limit=PAGE_SIZE,
                offset=self._offset,
            )
        self.rows = [
            {
                "id": str(u.id),
                "email": u.email,
                "name": u.display_name or "",
                "role": u.role,
                "status": u.status,
                "reason": u.deactivation_reason or "",
                "created": dates.stamp(u.created_at),
                "last_login": dates.stamp(u.last_login_at) or "never",
                "self": "1" if str(u.id) == self.user_id else "",
            }
            for u in users
        ]

    def _load_waitlist(self) -> None:
        from chat3d.domain.waitlist import list_entries

        with session_scope() as session:
            entries, self.total = list_entries(
                session, status=self._filter(self.status_filter), search=self.q, limit=PAGE_SIZE, offset=self._offset
            )
            inviter_ids = [e.invited_by for e in entries if e.invited_by]
            inviters = (
                {u.id: u.email for u in session.exec(select(User).where(col(User.id).in_(inviter_ids))).all()}
                if inviter_ids
                else {}
            )
        self.rows = [
            {
                "id": str(e.id),
                "email": e.email,
                "status": e.status,
                "joined": dates.stamp(e.created_at),
                "confirmed": dates.stamp(e.email_confirmed_at),
                "invited_by": inviters.get(e.invited_by, "") if e.invited_by else "",
                "marketing": "yes" if e.marketing_consent else "no",
            }
            for e in entries
        ]

    def _load_settings(self) -> None:
        from chat3d.domain.policy import get_app_settings

        with session_scope() as session:
            row = get_app_settings(session)
            updater = session.get(User, row.updated_by) if row.updated_by else None
        self.s_waitlist_enabled = row.waitlist_enabled
        self.s_invitations_enabled = row.invitations_enabled
        self.s_invitation_waitlist_required = row.invitation_waitlist_required
        self.s_quota = str(row.invitation_quota_per_user)
        self.s_stamp = row.updated_at.isoformat() if row.updated_at else ""
        self.s_updated = f"Last changed {dates.stamp(row.updated_at)}" + (f" by {updater.email}" if updater else "")

    def _load_audit(self) -> None:
        from chat3d.domain.admin import list_audit_log

        with session_scope() as session:
            entries, self.total = list_audit_log(
                session, action=self._filter(self.action_filter), search=self.q, limit=PAGE_SIZE, offset=self._offset
            )
        self.rows = [
            {
                "id": str(r.id),
                "at": dates.stamp(r.created_at),
                "actor": email or "(deleted)",
                "action": r.action,
                "target": f"{r.target_type} {r.target_id or ''}".strip(),
                "details": _short(r.details),
                "ip": r.ip or "",
            }
            for r, email in entries
        ]

    def _load_security(self) -> None:
        from chat3d.domain.security_events import list_security_events

        with session_scope() as session:
            events, self.total = list_security_events(
                session, event_type=self.q.strip() or None, limit=PAGE_SIZE, offset=self._offset
            )
        self.rows = [
            {
                "id": str(e.id),
                "at": dates.stamp(e.created_at),
                "type": e.event_type,
                "email": e.email or "",
                "ip": e.ip or "",
                "details": _short(e.details),
            }
            for e in events
        ]

    def _load_outbox(self) -> None:
        from chat3d.domain.outbox import list_outbox

        with session_scope() as session:
            messages, self.total = list_outbox(
                session, status=self._filter(self.status_filter), limit=PAGE_SIZE, offset=self._offset
            )
        self.rows = [
            {
                "id": str(m.id),
                "at": dates.stamp(m.created_at),
                "to": m.to_email,
                "subject": m.subject,
                "status": m.status,
                "attempts": str(m.attempts),
                "error": (m.last_error or "")[:120],
            }
            for m in messages
        ]

    # --- navigation and filters ------------------------------------------------------------------------------

    def _refresh(self):
        if self._admin() is None:
            return rx.redirect("/login")
        self._reload()
        return self._push_url()

    @rx.event
    def set_tab(self, tab: str):
        if tab not in TABS:
            return
        self.tab = tab
        self.q, self.status_filter, self.role_filter, self.action_filter, self.page = "", ALL, ALL, ALL, 1
        self.notice = ""
        return self._refresh()

    @rx.event
    def set_q(self, value: str):
        self.q = value[:200]

    @rx.event
    def search(self, _form: dict | None = None):
        self.page = 1
        return self._refresh()

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter, self.page = value or ALL, 1
        return self._refresh()

    @rx.event
    def set_role_filter(self, value: str):
        self.role_filter, self.page = value or ALL, 1
        return self._refresh()

    @rx.event
    def set_action_filter(self, value: str):
        self.action_filter, self.page = value or ALL, 1
        return self._refresh()

    @rx.event
    def next_page(self):
        if self.has_next:
            self.page += 1
        return self._refresh()

    @rx.event
    def prev_page(self):
        self.page = max(1, self.page - 1)
        return self._refresh()

    # --- actions -------------------------------------------------------------------------------------------------

    def _act(self, fn, success: str):
        """Run one domain action as the re-checked admin, then reload the current list."""
        admin = self._admin()
        if admin is None:
            return rx.redirect("/login")
        self.notice = self.error = ""
        try:
            with session_scope() as session:
                me = session.get(User, admin.id)
                fn(session, me)
        except DomainError as exc:
            self.error = exc.message
            return
        self.notice = success
        self._reload()

    @rx.event
    def activate(self, user_id: str, email: str):
        from chat3d.domain.admin import activate_user

        return self._act(lambda s, me: activate_user(s, me, user_id, ip=self._ip), f"{email} is active again.")

    @rx.event
    def open_deactivate(self, user_id: str, email: str):
        self.deactivate_id, self.deactivate_email, self.deactivate_reason = user_id, email, ""

    @rx.event
    def close_deactivate(self):
        self.deactivate_id = ""

    @rx.event
    def set_deactivate_reason(self, value: str):
        self.deactivate_reason = value[:500]

    @rx.event
    def confirm_deactivate(self):
        from chat3d.domain.admin import deactivate_user

        user_id, email, reason = self.deactivate_id, self.deactivate_email, self.deactivate_reason
        result = self._act(
            lambda s, me: deactivate_user(s, me, user_id, reason, ip=self._ip),
            f"{email} is suspended and signed out everywhere.",
        )
        if not self.error:
            self.deactivate_id = ""
        return result

    @rx.event
    def set_role(self, user_id: str, email: str, role: str):
        from chat3d.domain.admin import change_role

        return self._act(lambda s, me: change_role(s, me, user_id, role, ip=self._ip), f"{email} is now {role}.")

    @rx.event
    def reset_password(self, user_id: str, email: str):
        from chat3d.domain.admin import reset_password

        return self._act(
            lambda s, me: reset_password(s, me, user_id, ip=self._ip), f"A password-reset link was sent to {email}."
        )

    @rx.event
    def approve(self, entry_id: str, email: str):
        from chat3d.domain.waitlist import approve_entry

        return self._act(
            lambda s, me: approve_entry(s, me, entry_id, ip=self._ip),
            f"{email} is approved; a registration link is on its way.",
        )

    @rx.event
    def reject(self, entry_id: str, email: str):
        from chat3d.domain.waitlist import reject_entry

        return self._act(lambda s, me: reject_entry(s, me, entry_id, ip=self._ip), f"{email} was declined politely.")

    @rx.event
    def toggle_selected(self, entry_id: str, on: bool):
        if on and entry_id not in self.selected:
            self.selected = [*self.selected, entry_id]
        elif not on:
            self.selected = [i for i in self.selected if i != entry_id]

    @rx.event
    def select_all_pending(self, on: bool):
        self.selected = [r["id"] for r in self.rows if r.get("status") == "pending_admin_approval"] if on else []

    @rx.event
    def bulk_approve(self):
        from chat3d.domain.waitlist import bulk_approve

        ids = list(self.selected)
        outcome: dict[str, Any] = {}

        def run(s, me):
            result = bulk_approve(s, me, ids, ip=self._ip)
            outcome.update(approved=len(result.approved), skipped=len(result.skipped))

        response = self._act(run, "")
        if not self.error:
            self.notice = f"Approved {outcome['approved']}" + (
                f", skipped {outcome['skipped']}." if outcome["skipped"] else "."
            )
        return response

    @rx.event
    def set_s_waitlist_enabled(self, value: bool):
        self.s_waitlist_enabled = bool(value)

    @rx.event
    def set_s_invitations_enabled(self, value: bool):
        self.s_invitations_enabled = bool(value)

    @rx.event
    def set_s_invitation_waitlist_required(self, value: bool):
        self.s_invitation_waitlist_required = bool(value)

    @rx.event
    def set_s_quota(self, value: str):
        self.s_quota = value

    @rx.event
    def save_settings(self):
        from chat3d.domain.admin import update_settings

        try:
            quota = int(self.s_quota.strip())
        except ValueError:
            self.notice, self.error = "", "The invitation quota must be a whole number (0 or more)."
            return
        changes = {
            "waitlist_enabled": self.s_waitlist_enabled,
            "invitations_enabled": self.s_invitations_enabled,
            "invitation_waitlist_required": self.s_invitation_waitlist_required,
            "invitation_quota_per_user": quota,
        }
        result = self._act(lambda s, me: update_settings(s, me, changes, ip=self._ip), "Settings saved.")
        if not self.error:
            self.s_changed_elsewhere = ""
            self._load_settings()
        return result

    # --- live updates (events forwarded by the app shell's bridge) -------------------------------------------

    def _on_console(self) -> bool:
        return (self.router.url.path or "").rstrip("/") == "/admin" and self.user_role == Role.admin.value

    @rx.event
    def on_live_event(self, event: dict):
        """`admin.settings.updated` / `admin.waitlist.updated` from the stream: re-read what the console shows."""
        if not isinstance(event, dict) or not self._on_console():
            return
        etype = event.get("type")
        if etype == ev.ADMIN_SETTINGS_UPDATED:
            payload = event.get("payload")
            self._live_settings_changed(payload if isinstance(payload, dict) else {})
        elif etype == ev.ADMIN_WAITLIST_UPDATED:
            self._live_waitlist_changed()

    def _live_settings_changed(self, payload: dict[str, Any]) -> None:
        if self._admin() is None:
            return
        stamp = self.s_stamp
        self._load_settings()
        if self.s_stamp != stamp:  # this tab did not save it itself (save_settings already re-read)
            who = str(payload.get("updatedBy") or "")
            self.s_changed_elsewhere = (
                f"Settings were just changed by {who}; the form shows the new values."
                if who and who != self.user_email
                else "You changed the settings in another window; the form shows the new values."
            )

    def _live_waitlist_changed(self) -> None:
        """The waitlist changed somewhere: the waitlist tab and the dashboard re-read (selection kept)."""
        if not self._on_console() or self.tab not in ("waitlist", "dashboard"):
            return
        if self._admin() is None:
            return
        selected = list(self.selected)
        self._reload()
        pending = {r["id"] for r in self.rows if r.get("status") == "pending_admin_approval"}
        self.selected = [i for i in selected if i in pending]


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"

"""The workbench's Versions tab: the chat's versions with thumbnails, compare, restore, fork and share links.

Restore and Compare involve the workbench (the shown version) and the contexts pane, so their handlers are
chat_reactions'; they and the chat's opening call this module's functions (plain functions: Reflex makes every
public method of a state an event handler a client could send)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import shares, versions
from chat3d.domain.errors import DomainError
from chat3d.domain.requirements import summary as checklist_summary
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.chat_view import format_dims

ORIGIN_LABELS = {
    "prompt": "From a prompt",
    "regenerated": "Regenerated",
    "edited": "Code edited by you",
    "parameters": "Parameters changed by you",
    "imported": "Imported",
}


@dataclass
class VersionRow:
    item_id: str = ""
    number: int = 0
    title: str = ""
    origin: str = ""
    dims: str = ""
    thumb_url: str = ""
    current: bool = False
    checklist: str = ""  # issue 23: the version's requirement checklist


@dataclass
class CompareRow:
    label: str = ""
    a: str = ""
    b: str = ""
    delta: str = ""


@dataclass
class ShareRow:
    id: str = ""
    label: str = ""  # "Version 3 · Bracket for Sam"
    status: str = ""  # "active" | "expired" | "revoked"
    expiry: str = ""  # "Expires in 7 days (29 Nov 2026)" | "Never expires" | "Expired 22 Nov 2026" | ""
    active: bool = True
    views: int = 0


# The share dialog's expiry choices (radio labels) -> days; "On a date" takes the date field.
EXPIRY_CHOICES = ["Never", "1 day", "7 days", "30 days", "On a date"]
EXPIRY_DAYS = {"1 day": 1, "7 days": 7, "30 days": 30}


def _day(ts: datetime) -> str:
    return f"{ts.day} {ts:%b %Y}"


def expiry_label(expires_at: datetime | None, revoked: bool = False, now: datetime | None = None) -> str:
    """How long a link still works, for its owner: `Expires in 6 days (28 Nov 2026)`, `Expired 21 Nov 2026`."""
    if revoked:
        return ""
    if expires_at is None:
        return "Never expires"
    now = now or datetime.now(UTC)
    expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    left = (expires_at - now).total_seconds()
    if left <= 0:
        return f"Expired {_day(expires_at)}"
    hours = left / 3600
    if hours >= 23.5:
        n = max(1, round(hours / 24))
        rel = f"{n} day" + ("s" if n != 1 else "")
    elif hours >= 1:
        n = round(hours)
        rel = f"{n} hour" + ("s" if n != 1 else "")
    else:
        n = max(1, math.ceil(left / 60))
        rel = f"{n} minute" + ("s" if n != 1 else "")
    return f"Expires in {rel} ({_day(expires_at)})"


def expiry_from_choice(choice: str, on_date: str, today: date | None = None) -> tuple[int | None, datetime | None]:
    """(days, moment) for chat3d.domain.shares.create_share. A chosen date lasts to the end of that day (UTC).
    Raises ValueError with a message for a person."""
    if choice in ("", "Never"):
        return None, None
    if choice in EXPIRY_DAYS:
        return EXPIRY_DAYS[choice], None
    if choice != "On a date":
        raise ValueError("Choose when the link expires.")
    if not on_date:
        raise ValueError("Choose the date the link expires.")
    try:
        day = date.fromisoformat(on_date)
    except ValueError:
        raise ValueError("That is not a date.") from None
    if day < (today or datetime.now(UTC).date()):
        raise ValueError("The expiry date must be in the future.")
    return None, datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _compare_cell(value) -> str:
    """One side of a compare row: a size as dimensions, a number without trailing zeros, none as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return format_dims(value) or "—"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _delta(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " / ".join(f"{v:+.1f}" for v in value)
    return f"{float(value):+,.1f}"


def _scaled(a, b, small: str, large: str, factor: float):
    """The unit a row shows (the larger of the two values decides, as format_volume/format_area do): the
    formatter for its values and its delta, so `19.7 cm³ → 41.5 cm³` has the delta `+21.8 cm³`, never `+21,817.0`."""
    known = [abs(float(v)) for v in (a, b) if v is not None]
    unit, div = (large, factor) if known and max(known) >= factor else (small, 1.0)

    def value(v) -> str:
        return "—" if v is None else f"{float(v) / div:,.1f} {unit}"

    def delta(d) -> str:
        return "" if d is None else f"{float(d) / div:+,.1f} {unit}"

    return value, delta


def metric_row(label: str, metric: str, a, b, delta) -> CompareRow:
    """One Compare row with its unit on the values and on the delta."""
    if metric == "volume_mm3":
        value, signed = _scaled(a, b, "mm³", "cm³", 1000.0)
        return CompareRow(label, value(a), value(b), signed(delta))
    if metric == "area_mm2":
        value, signed = _scaled(a, b, "mm²", "cm²", 100.0)
        return CompareRow(label, value(a), value(b), signed(delta))
    if metric == "bbox_size_mm":
        return CompareRow(label, _compare_cell(a), _compare_cell(b), _delta(delta) + (" mm" if delta else ""))
    if metric in ("solids", "faces", "edges") and delta is not None:
        return CompareRow(label, _compare_cell(a), _compare_cell(b), f"{round(float(delta)):+d}")
    return CompareRow(label, _compare_cell(a), _compare_cell(b), _delta(delta))


class VersionsState(rx.State):
    rows: rx.Field[list[VersionRow]] = rx.field(default_factory=list)
    context_id: str = ""
    compare_title: str = ""
    compare_rows: rx.Field[list[CompareRow]] = rx.field(default_factory=list)
    share_url: str = ""
    share_rows: rx.Field[list[ShareRow]] = rx.field(default_factory=list)
    error: str = ""
    # The share dialog: open while share_item_id is set.
    share_item_id: str = ""
    share_version: str = ""
    share_expiry: str = "Never"
    share_date: str = ""
    share_date_min: str = ""
    share_date_max: str = ""
    share_error: str = ""

    @rx.event
    async def load(self):
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        self.compare_rows, self.compare_title, self.error = [], "", ""
        reload_versions(self, uid, (await self.get_state(ActiveChatState)).context_id)

    @rx.event
    async def fork(self, item_id: str):
        uid = await signed_in_user_id(self)
        if uid is None or not self.context_id:
            return
        try:
            with session_scope() as s:
                new_id = str(versions.fork(s, uid, self.context_id, item_id).id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect(f"/chat/{new_id}")

    @rx.event
    def close_compare(self):
        self.compare_rows, self.compare_title = [], ""

    @rx.event
    def open_share(self, item_id: str):
        row = next((r for r in self.rows if r.item_id == item_id), None)
        if row is None:
            return
        self.share_item_id, self.share_version = item_id, row.title
        self.share_url, self.share_error, self.share_expiry, self.share_date = "", "", "Never", ""
        today = datetime.now(UTC).date()
        self.share_date_min = today.isoformat()
        self.share_date_max = (today + timedelta(days=shares.MAX_EXPIRY_DAYS - 1)).isoformat()

    @rx.event
    def set_share_expiry(self, value: str):
        self.share_expiry = value if value in EXPIRY_CHOICES else "Never"
        self.share_error = ""

    @rx.event
    def set_share_date(self, value: str):
        self.share_date = value[:10]
        self.share_error = ""

    @rx.event
    async def share(self, form: dict):
        """Create a link for the dialog's version with the chosen title and expiry; the URL shows once."""
        uid = await signed_in_user_id(self)
        if uid is None or not self.share_item_id:
            return
        try:
            days, moment = expiry_from_choice(self.share_expiry, self.share_date)
        except ValueError as exc:
            self.share_error = str(exc)
            return
        try:
            with session_scope() as s:
                created = shares.create_share(
                    s,
                    uid,
                    self.share_item_id,
                    title=str(form.get("title") or ""),
                    expires_in_days=days,
                    expires_at=moment,
                )
                token = created.token
        except DomainError as exc:
            self.share_error = exc.message
            return
        self.share_error = ""
        self.share_url = f"{self.router.url.origin}/share/{token}"
        reload_versions(self, uid, self.context_id)

    @rx.event
    def close_share(self):
        self.share_url, self.share_item_id, self.share_error = "", "", ""

    @rx.event
    def share_open_change(self, is_open: bool):
        if not is_open:
            self.share_url, self.share_item_id, self.share_error = "", "", ""

    @rx.event
    async def revoke(self, share_id: str):
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        try:
            with session_scope() as s:
                shares.revoke_share(s, uid, share_id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        reload_versions(self, uid, self.context_id)
        return rx.toast.success("The link no longer works.")


# --- what other modules call (chat_reactions) ---------------------------------------------------------------


def reload_versions(pane: VersionsState, uid: uuid.UUID, context_id: str) -> None:
    """The chat's versions and its share links (none for '' or a chat that is not the user's)."""
    if not context_id:
        pane.rows, pane.share_rows, pane.context_id = [], [], ""
        return
    try:
        with session_scope() as s:
            found = versions.list_versions(s, uid, context_id)
            mine = [sh for sh in shares.list_shares(s, uid) if str(sh.context_id) == context_id]
    except DomainError as exc:
        pane.rows, pane.share_rows, pane.context_id = [], [], ""  # never another chat's rows
        pane.error = exc.message
        return
    number = {v.item_id: v.number for v in found}
    pane.context_id = context_id
    pane.rows = [
        VersionRow(
            item_id=v.item_id,
            number=v.number,
            title=f"Version {v.number}",
            origin=ORIGIN_LABELS.get(v.origin, v.origin),
            dims=format_dims((v.metrics or {}).get("bbox_size_mm")),
            thumb_url=f"/api/files/{v.thumbnail_file_id}" if v.thumbnail_file_id else "",
            current=v.current,
            checklist=checklist_summary(v.requirements),
        )
        for v in reversed(found)
    ]
    pane.share_rows = [
        ShareRow(
            id=str(sh.id),
            label=f"Version {number.get(str(sh.item_id), '?')}" + (f" · {sh.title}" if sh.title else ""),
            status="revoked" if sh.revoked_at else "expired" if shares.is_expired(sh) else "active",
            expiry=expiry_label(sh.expires_at, revoked=sh.revoked_at is not None),
            active=shares.is_active(sh),
            views=sh.views,
        )
        for sh in mine
    ]


def follow_chat(pane: VersionsState, uid: uuid.UUID, context_id: str) -> None:
    """The open chat changed, or got a new version: list that chat's versions. Without this the tab kept the
    previous chat's rows (their Share/Fork/Compare acting on that chat) until it was clicked again."""
    if context_id != pane.context_id:
        pane.compare_rows, pane.compare_title, pane.error = [], "", ""
        pane.share_url, pane.share_item_id, pane.share_error = "", "", ""
    reload_versions(pane, uid, context_id)


def restore(pane: VersionsState, uid: uuid.UUID, item_id: str) -> str | None:
    """Make a version of the listed chat its current one: '' when done, why not when refused, None when no chat
    is listed."""
    if not pane.context_id:
        return None
    try:
        with session_scope() as s:
            versions.restore(s, uid, pane.context_id, item_id)
    except DomainError as exc:
        return exc.message
    reload_versions(pane, uid, pane.context_id)
    return ""


def compare(pane: VersionsState, uid: uuid.UUID, item_id: str, shown: str):
    """The Compare table: `item_id` against the version the workbench shows (`shown`), or, when that is the
    one shown, against the newest other version. Returns a toast when the domain refuses."""
    if not shown:
        return None
    if shown == item_id:
        latest = next((r.item_id for r in pane.rows if r.item_id != item_id), "")
        if not latest:
            return
        a, b = item_id, latest
    else:
        a, b = item_id, shown
    try:
        with session_scope() as s:
            diff = versions.compare(s, uid, a, b)
    except DomainError as exc:
        return rx.toast.error(exc.message)
    num = {r.item_id: r.number for r in pane.rows}
    labels = {
        "bbox_size_mm": "Size",
        "volume_mm3": "Volume",
        "area_mm2": "Surface area",
        "solids": "Solids",
        "faces": "Faces",
        "edges": "Edges",
    }
    rows = []
    for r in diff["metrics"]:
        rows.append(metric_row(labels.get(r["metric"], r["metric"]), r["metric"], r["a"], r["b"], r["delta"]))
    for p in diff["parameters"]:
        rows.append(
            CompareRow(
                p["name"].replace("_", " "),
                _compare_cell(p["a"]),
                _compare_cell(p["b"]),
                _delta(p["b"] - p["a"]) if p["a"] is not None and p["b"] is not None else "",
            )
        )
    checks = diff.get("requirements") or {}
    if checks.get("a") or checks.get("b"):
        rows.append(
            CompareRow(
                "Requirements",
                checklist_summary(checks.get("a") or []) or "—",
                checklist_summary(checks.get("b") or []) or "—",
                "",
            )
        )
    pane.compare_title = f"Version {num.get(a, '?')} → Version {num.get(b, '?')}"
    pane.compare_rows = rows

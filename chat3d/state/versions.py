"""The workbench's Versions tab: the chat's versions with thumbnails, compare, restore, fork and share links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import shares, versions
from chat3d.domain.errors import DomainError
from chat3d.state.auth import AuthState
from chat3d.state.chat_view import format_dims, format_volume

ORIGIN_LABELS = {"prompt": "From a prompt", "regenerated": "Regenerated", "edited": "Code edited by you",
                 "parameters": "Parameters changed by you", "imported": "Imported"}


@dataclass
class VersionRow:
    item_id: str = ""
    number: int = 0
    title: str = ""
    origin: str = ""
    dims: str = ""
    thumb_url: str = ""
    current: bool = False


@dataclass
class CompareRow:
    label: str = ""
    a: str = ""
    b: str = ""
    delta: str = ""


@dataclass
class ShareRow:
    id: str = ""
    label: str = ""
    active: bool = True
    views: int = 0


def _fmt(value) -> str:
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


class VersionsState(rx.State):
    rows: list[VersionRow] = []
    context_id: str = ""
    compare_title: str = ""
    compare_rows: list[CompareRow] = []
    share_url: str = ""
    share_rows: list[ShareRow] = []
    error: str = ""

    async def _uid(self) -> uuid.UUID | None:
        return (await self.get_state(AuthState))._current_user_id()

    def _reload(self, uid: uuid.UUID, context_id: str) -> None:
        if not context_id:
            self.rows, self.context_id = [], ""
            return
        try:
            with session_scope() as s:
                found = versions.list_versions(s, uid, context_id)
                mine = [sh for sh in shares.list_shares(s, uid) if str(sh.context_id) == context_id]
        except DomainError as exc:
            self.error = exc.message
            return
        number = {v.item_id: v.number for v in found}
        self.context_id = context_id
        self.rows = [VersionRow(
            item_id=v.item_id, number=v.number, title=f"Version {v.number}", origin=ORIGIN_LABELS.get(v.origin, v.origin),
            dims=format_dims((v.metrics or {}).get("bbox_size_mm")),
            thumb_url=f"/api/files/{v.thumbnail_file_id}" if v.thumbnail_file_id else "", current=v.current,
        ) for v in reversed(found)]
        self.share_rows = [ShareRow(
            id=str(sh.id), label=f"Version {number.get(str(sh.item_id), '?')}" + (f" · {sh.title}" if sh.title else ""),
            active=shares.is_active(sh), views=sh.views,
        ) for sh in mine]

    @rx.event
    async def load(self):
        from chat3d.state.chat import ThreadState

        uid = await self._uid()
        if uid is None:
            return
        self.compare_rows, self.compare_title, self.error = [], "", ""
        self._reload(uid, (await self.get_state(ThreadState)).active_id)

    @rx.event
    async def restore(self, item_id: str):
        from chat3d.state.chat_workbench import WorkbenchState

        uid = await self._uid()
        if uid is None or not self.context_id:
            return
        try:
            with session_scope() as s:
                versions.restore(s, uid, self.context_id, item_id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._reload(uid, self.context_id)
        (await self.get_state(WorkbenchState))._show_item(uid, item_id)
        return rx.toast.success("The next prompt builds on this version.")

    @rx.event
    async def fork(self, item_id: str):
        uid = await self._uid()
        if uid is None or not self.context_id:
            return
        try:
            with session_scope() as s:
                new_id = str(versions.fork(s, uid, self.context_id, item_id).id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect(f"/chat/{new_id}")

    @rx.event
    async def compare(self, item_id: str):
        from chat3d.state.chat_workbench import WorkbenchState

        uid = await self._uid()
        shown = (await self.get_state(WorkbenchState)).item_id
        if uid is None or not shown:
            return
        if shown == item_id:
            latest = next((r.item_id for r in self.rows if r.item_id != item_id), "")
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
        num = {r.item_id: r.number for r in self.rows}
        labels = {"bbox_size_mm": "Size", "volume_mm3": "Volume", "area_mm2": "Surface area", "solids": "Solids",
                  "faces": "Faces", "edges": "Edges"}
        rows = []
        for r in diff["metrics"]:
            if r["metric"] == "volume_mm3":
                rows.append(CompareRow(labels[r["metric"]], format_volume(r["a"]), format_volume(r["b"]), _delta(r["delta"])))
            else:
                rows.append(CompareRow(labels.get(r["metric"], r["metric"]), _fmt(r["a"]), _fmt(r["b"]), _delta(r["delta"])))
        for p in diff["parameters"]:
            rows.append(CompareRow(p["name"].replace("_", " "), _fmt(p["a"]), _fmt(p["b"]),
                                   _delta(p["b"] - p["a"]) if p["a"] is not None and p["b"] is not None else ""))
        self.compare_title = f"Version {num.get(a, '?')} → Version {num.get(b, '?')}"
        self.compare_rows = rows

    @rx.event
    def close_compare(self):
        self.compare_rows, self.compare_title = [], ""

    @rx.event
    async def share(self, item_id: str):
        uid = await self._uid()
        if uid is None:
            return
        try:
            with session_scope() as s:
                created = shares.create_share(s, uid, item_id)
                token = created.token
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self.share_url = f"{self.router.url.origin}/share/{token}"
        self._reload(uid, self.context_id)

    @rx.event
    def close_share(self):
        self.share_url = ""

    @rx.event
    async def revoke(self, share_id: str):
        uid = await self._uid()
        if uid is None:
            return
        try:
            with session_scope() as s:
                shares.revoke_share(s, uid, share_id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._reload(uid, self.context_id)
        return rx.toast.success("The link no longer works.")

"""The public share page: one version's viewer, size and downloads, found by the link's token only."""

from __future__ import annotations

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import shares
from chat3d.domain.errors import DomainError
from chat3d.domain.requirements import summary
from chat3d.state.chat_view import (
    FORMAT_LABELS,
    FileView,
    PartView,
    format_area,
    format_dims,
    format_size,
    format_volume,
    part_views,
)

ORDER = ["stl", "step", "3mf", "glb", "py"]  # downloads offered; model.png is the page's thumbnail only


def token_from_path(path: str) -> str:
    parts = [p for p in (path or "").split("?")[0].split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0] == "share" else ""


class ShareState(rx.State):
    """No user, no chat: only what chat3d.domain.shares.public_view exposes."""

    loaded: bool = False
    found: bool = False
    expired: bool = False  # the link existed but its expiry passed (revoked/unknown links say less)
    title: str = ""
    dims: str = ""
    size_mm: list[float] = []
    glb_url: str = ""
    thumb_url: str = ""
    facts: list[str] = []
    checklist: str = ""  # issue 23: requirement labels and statuses, one line
    files: list[FileView] = []
    parts: rx.Field[list[PartView]] = rx.field(
        default_factory=list
    )  # issue 27: named parts with their own downloads (several solids only)
    part_names: list[str] = []

    @rx.event
    def load(self):
        token = token_from_path(self.router.url.path)
        self.loaded, self.found, self.expired = True, False, False
        self.title, self.dims, self.size_mm, self.glb_url, self.thumb_url, self.facts, self.files = (
            "",
            "",
            [],
            "",
            "",
            [],
            [],
        )
        self.checklist, self.parts, self.part_names = "", [], []
        try:
            with session_scope() as s:
                share, _, model = shares.resolve(s, token, count_view=True)
                view = shares.public_view(share, model)
        except shares.ShareExpired:
            self.expired = True
            return
        except DomainError:
            return
        base = f"/api/share/{token}/files/"
        metrics = view["metrics"]
        self.found = True
        self.title = view["title"] or "Shared model"
        self.size_mm = [float(v) for v in metrics.get("bbox_size_mm") or []]
        self.dims = format_dims(self.size_mm)
        facts = [
            f"Volume {format_volume(metrics.get('volume_mm3'))}" if metrics.get("volume_mm3") is not None else "",
            f"Surface {format_area(metrics.get('area_mm2'))}" if metrics.get("area_mm2") is not None else "",
            f"{metrics['solids']} solid(s)" if metrics.get("solids") is not None else "",
        ]
        self.facts = [f for f in facts if f]
        self.checklist = summary(view.get("requirements") or [])
        thumb = next((f for f in view["files"] if f["format"] == "png"), None)
        refs = sorted((f for f in view["files"] if f["format"] in ORDER), key=lambda f: ORDER.index(f["format"]))
        self.files = [
            FileView(
                id=f["id"],
                url=base + f["id"],
                filename=f["filename"],
                format=f["format"],
                label=FORMAT_LABELS.get(f["format"], f["format"].upper()),
                size_label=format_size(f["size"]),
            )
            for f in refs
        ]
        glb = next((f for f in refs if f["format"] == "glb"), None)
        self.glb_url = base + glb["id"] if glb else ""
        self.thumb_url = base + thumb["id"] if thumb else ""  # the post step's PNG; none for older versions
        self.parts = part_views(model, f"/api/share/{token}/parts/")
        self.part_names = [p["name"] for p in view["parts"]]

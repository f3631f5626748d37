"""The running app's database and data dir, reached from the test process: rows an earlier use of the app left.

tests/security/test_web_surface.py and tests/browser/test_xss.py attack what these put there (the `app_data`
fixture in tests/conftest.py gives them one per module).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tests.support.app_process import AppProcess

PASSWORD = "a-long-test-password-1"
SVG_WITH_SCRIPT = (b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
                   b'<script>localStorage.setItem("xss", document.cookie || "ran")</script>'
                   b'<rect width="40" height="40" fill="red"/></svg>')


@dataclass
class AppData:
    """Rows put straight into the running app's database and data dir (what earlier use of the app left)."""

    app: AppProcess

    def user(self, email: str | None = None, role: str = "user") -> tuple[uuid.UUID, str]:
        """A new account; returns (id, email). Hashed at cost 4: verifying works at any cost."""
        from chat3d.db.engine import session_scope
        from chat3d.db.models import User
        from chat3d.domain.passwords import hash_password

        email = email or f"u-{uuid.uuid4().hex[:10]}@example.com"
        with session_scope() as s:
            row = User(email=email, password_hash=hash_password(PASSWORD), role=role, display_name="Tester")
            s.add(row)
            s.flush()
            return row.id, email

    def shared_svg(self, owner_id: uuid.UUID) -> tuple[str, str, str]:
        """A version whose files include a program-made SVG with a script, shared: (file id, png id, token)."""
        import io

        from PIL import Image

        from chat3d.db.engine import session_scope
        from chat3d.db.models import ItemRole, StoredFile
        from chat3d.domain import chats, files, shares

        buf = io.BytesIO()
        Image.new("RGB", (8, 8), "white").save(buf, format="PNG")
        with session_scope() as s:
            ctx = chats.create_context(s, owner_id, name="Bracket")
            item = chats.add_item(s, ctx, ItemRole.assistant, [])
            svg = files.store_bytes(s, owner_id, SVG_WITH_SCRIPT, fmt="svg", filename="model.svg",
                                    context_id=ctx.id, item_id=item.id)
            svg.content_type = "image/svg+xml"  # as stored before thumbnails became PNG
            png = files.store_bytes(s, owner_id, buf.getvalue(), fmt="png", filename="thumb.png",
                                    context_id=ctx.id, item_id=item.id)
            s.add(svg)
            refs = [{"id": str(r.id), "format": r.format, "filename": r.filename, "size": r.size}
                    for r in (svg, png)]
            item.segments = [{"type": "text", "text": "A bracket."},
                             {"type": "model", "files": refs, "code": "", "metrics": {"bbox_size_mm": [1, 1, 1]}}]
            s.add(item)
            s.flush()
            created = shares.create_share(s, owner_id, item.id)
            assert s.get(StoredFile, svg.id) is not None
            return str(svg.id), str(png.id), created.token

    def login(self, email: str, password: str = PASSWORD) -> str:
        """The session cookie value of a fresh sign-in over HTTP."""
        resp = httpx.post(f"{self.app.url}/api/auth/login", json={"email": email, "password": password}, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.cookies["chat3d_session"]

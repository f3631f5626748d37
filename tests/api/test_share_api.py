"""Share links: work signed out, stop when revoked or expired, and expose only the shared version."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import ChatItem, ItemRole, Share, User, utcnow
from chat3d.domain import chats, files
from chat3d.domain.tokens import hash_token
from tests.api.test_chat_api import _login


def _chat_with_two_versions(email: str) -> tuple[str, str, str, list[str]]:
    """A chat named 'Secret project' with a prompt and two versions; returns (ctx, v1, v2, v2's file ids)."""
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == email)).one()
        ctx = chats.create_context(s, user.id, name="Secret project")
        chats.add_item(s, ctx, ItemRole.user, [{"type": "text", "text": "my confidential prompt"}])
        ids, v2_files = [], []
        for n in (1, 2):
            item = chats.add_item(s, ctx, ItemRole.assistant, [])
            refs = []
            for fmt in ("glb", "stl", "step", "svg", "py", "png"):  # svg: an old version's program-written drawing
                row = files.store_bytes(s, user.id, f"{fmt} of v{n}".encode(), fmt=fmt, filename=f"model.{fmt}",
                                        context_id=ctx.id, item_id=item.id)
                refs.append({"id": str(row.id), "format": fmt, "filename": row.filename, "size": row.size})
            item.segments = [{"type": "text", "text": f"answer {n}"},
                             {"type": "model", "files": refs, "code": "result = 1", "brief": "confidential brief",
                              "metrics": {"bbox_size_mm": [10.0 * n, 5.0, 2.0], "volume_mm3": 100.0 * n, "log": "x"},
                              "toolCall": {"id": "c", "arguments": {"brief": "confidential brief"}}}]
            s.add(item)
            s.flush()
            ids.append(str(item.id))
            if n == 2:
                v2_files = [r["id"] for r in refs if r["format"] != "svg"]  # a stored SVG is never shared
        return str(ctx.id), ids[0], ids[1], v2_files


@pytest.fixture
def alice(make_user, api):
    make_user("alice@example.com")
    return _login(api, "alice@example.com")


@pytest.fixture
def bob(make_user, api):
    make_user("bob@example.com")
    return _login(api, "bob@example.com")


def test_share_link_signed_out_and_revoked(api: TestClient, alice) -> None:
    ctx, v1, v2, v2_files = _chat_with_two_versions("alice@example.com")
    created = api.post(f"/api/chat/items/{v2}/share", json={}, headers=alice)
    assert created.status_code == 201, created.text
    body = created.json()
    token, share_id = body["token"], body["id"]
    assert body["url"] == f"/share/{token}" and body["active"] and body["itemId"] == v2
    with session_scope() as s:
        row = s.get(Share, uuid.UUID(share_id))
        assert row.token_hash == hash_token(token) and token not in json.dumps(row.model_dump(mode="json"))

    public = TestClient(api.app)  # no credentials at all
    meta = public.get(f"/api/share/{token}")
    assert meta.status_code == 200
    data = meta.json()
    assert data["title"] is None
    assert data["metrics"] == {"bbox_size_mm": [20.0, 5.0, 2.0], "volume_mm3": 200.0}
    assert sorted(f["id"] for f in data["files"]) == sorted(v2_files)
    text = meta.text
    for secret in ("Secret project", "confidential", ctx, v1, v2, "alice", "answer 2"):
        assert secret not in text, secret

    glb = next(f for f in data["files"] if f["format"] == "glb")
    got = public.get(f"/api/share/{token}/files/{glb['id']}")
    assert got.status_code == 200 and got.content == b"glb of v2"
    assert got.headers["content-type"] == "model/gltf-binary"
    step = next(f for f in data["files"] if f["format"] == "step")
    assert "attachment" in public.get(f"/api/share/{token}/files/{step['id']}").headers["content-disposition"]

    # No other files through this link: v1's files, another user's ids, junk.
    with session_scope() as s:
        v1_files = [f["id"] for f in chats.model_segment(s.get(ChatItem, uuid.UUID(v1)))["files"]]
    with session_scope() as s:
        v2_svg = [f["id"] for f in chats.model_segment(s.get(ChatItem, uuid.UUID(v2)))["files"] if f["format"] == "svg"]
    assert len(v2_svg) == 1
    for fid in [*v1_files, *v2_svg, str(uuid.uuid4()), "not-a-uuid"]:
        resp = public.get(f"/api/share/{token}/files/{fid}")
        assert resp.status_code == 404 and "error" in resp.json()
    assert public.get("/api/share/not-a-real-token").status_code == 404

    # The owner sees the link with its view count; revoking ends it at once.
    listed = api.get("/api/shares", headers=alice).json()
    assert listed["total"] == 1 and listed["items"][0]["views"] == 1
    assert api.delete(f"/api/shares/{share_id}", headers=alice).status_code == 204
    assert public.get(f"/api/share/{token}").status_code == 404
    assert public.get(f"/api/share/{token}/files/{glb['id']}").status_code == 404
    assert api.get("/api/shares", headers=alice).json()["items"][0]["active"] is False


def test_title_only_when_chosen_and_expiry(api: TestClient, alice) -> None:
    _, v1, _, _ = _chat_with_two_versions("alice@example.com")
    body = api.post(f"/api/chat/items/{v1}/share", json={"title": "  Bracket  v1 ", "expiresInDays": 7},
                    headers=alice).json()
    public = TestClient(api.app)
    meta = public.get(f"/api/share/{body['token']}").json()
    assert meta["title"] == "Bracket v1" and meta["expiresAt"]
    with session_scope() as s:
        row = s.get(Share, uuid.UUID(body["id"]))
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.add(row)
    gone = public.get(f"/api/share/{body['token']}")
    assert gone.status_code == 404 and gone.json()["error"] == "This link has expired."
    listed = api.get("/api/shares", headers=alice).json()["items"][0]
    assert listed["expired"] is True and listed["active"] is False and listed["title"] == "Bracket v1"
    assert api.post(f"/api/chat/items/{v1}/share", json={"expiresInDays": 0}, headers=alice).status_code == 400


def test_expiry_as_a_date_and_bad_input(api: TestClient, alice) -> None:
    _, v1, _, _ = _chat_with_two_versions("alice@example.com")
    url = f"/api/chat/items/{v1}/share"
    when = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    body = api.post(url, json={"title": "Until Thursday", "expiresAt": when.isoformat()}, headers=alice)
    assert body.status_code == 201, body.text
    assert body.json()["expiresAt"] == when.isoformat() and body.json()["expired"] is False
    # A date without a time or zone is midnight UTC.
    day = (utcnow() + timedelta(days=10)).date().isoformat()
    assert api.post(url, json={"expiresAt": day}, headers=alice).json()["expiresAt"] == f"{day}T00:00:00+00:00"

    def error(payload: dict) -> str:
        resp = api.post(url, json=payload, headers=alice)
        assert resp.status_code == 400, resp.text
        return resp.json()["error"]

    assert error({"expiresAt": (utcnow() - timedelta(hours=1)).isoformat()}) == "The expiry date must be in the future."
    assert error({"expiresAt": (utcnow() + timedelta(days=400)).isoformat()}) == "A link can last at most 365 days."
    assert "not both" in error({"expiresAt": when.isoformat(), "expiresInDays": 3})
    assert "expiresAt" in error({"expiresAt": "next tuesday"})
    assert "title" in error({"title": "x" * 500}) and "200" in error({"title": "x" * 500})
    assert api.get("/api/shares", headers=alice).json()["total"] == 2  # nothing stored for the refused ones


def test_revoked_and_unknown_links_say_the_same(api: TestClient, alice) -> None:
    _, v1, _, _ = _chat_with_two_versions("alice@example.com")
    created = api.post(f"/api/chat/items/{v1}/share", json={}, headers=alice).json()
    api.delete(f"/api/shares/{created['id']}", headers=alice)
    public = TestClient(api.app)
    revoked = public.get(f"/api/share/{created['token']}").json()["error"]
    assert revoked == public.get("/api/share/no-such-token").json()["error"]
    assert "expired" not in revoked


def test_only_the_owner_shares_lists_and_revokes(api: TestClient, alice, bob) -> None:
    ctx, v1, v2, _ = _chat_with_two_versions("alice@example.com")
    assert api.post(f"/api/chat/items/{v1}/share", json={}, headers=bob).status_code == 404
    share_id = api.post(f"/api/chat/items/{v1}/share", json={}, headers=alice).json()["id"]
    assert api.get("/api/shares", headers=bob).json() == {"items": [], "total": 0}
    assert api.delete(f"/api/shares/{share_id}", headers=bob).status_code == 404
    # A user message is not a version.
    with session_scope() as s:
        user_item = s.exec(select(ChatItem).where(ChatItem.role == "user")).first()
    assert api.post(f"/api/chat/items/{user_item.id}/share", json={}, headers=alice).status_code == 400
    # Deleting the chat ends its links.
    token = api.post(f"/api/chat/items/{v2}/share", json={}, headers=alice).json()["token"]
    assert api.delete(f"/api/chat/contexts/{ctx}", headers=alice).status_code == 204
    assert TestClient(api.app).get(f"/api/share/{token}").status_code == 404

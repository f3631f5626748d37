"""Chat, query and file routes: shapes our clients rely on, ownership as 404, bad input as clear 4xx."""

from __future__ import annotations

import io
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import PASSWORD


def _login(api: TestClient, email: str) -> dict[str, str]:
    token = api.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(make_user, api):
    make_user("alice@example.com")
    return _login(api, "alice@example.com")


@pytest.fixture
def bob(make_user, api):
    make_user("bob@example.com")
    return _login(api, "bob@example.com")


def test_context_crud_and_isolation(api: TestClient, alice, bob) -> None:
    created = api.post("/api/chat/contexts", json={"name": "Brackets"}, headers=alice)
    assert created.status_code == 201
    ctx = created.json()
    assert set(ctx) >= {"id", "name", "conversationModelId", "codegenModelId", "units", "createdAt"}
    cid = ctx["id"]
    assert api.get("/api/chat/contexts", headers=alice).json()["total"] == 1
    assert api.get("/api/chat/contexts", headers=bob).json() == {"items": [], "total": 0}
    for method, path, body in [
        ("GET", f"/api/chat/contexts/{cid}", None), ("PATCH", f"/api/chat/contexts/{cid}", {"name": "x"}),
        ("DELETE", f"/api/chat/contexts/{cid}", None), ("GET", f"/api/chat/contexts/{cid}/items", None),
        ("GET", "/api/chat/contexts/not-a-uuid", None),
    ]:
        resp = api.request(method, path, json=body, headers=bob)
        assert resp.status_code == 404 and resp.json()["error"], (method, path)
    renamed = api.patch(f"/api/chat/contexts/{cid}", json={"name": "Bracket set"}, headers=alice)
    assert renamed.json()["name"] == "Bracket set"
    bad = api.patch(f"/api/chat/contexts/{cid}", json={"codegenModelId": "gpt-4.1"}, headers=alice)
    assert bad.status_code == 400 and "not available" in bad.json()["error"]
    assert api.delete(f"/api/chat/contexts/{cid}", headers=alice).status_code == 204
    assert api.get(f"/api/chat/contexts/{cid}", headers=alice).status_code == 404


def test_models_list_offers_offline_models(api: TestClient, alice) -> None:
    body = api.get("/api/llm/models", headers=alice).json()
    ids = {m["id"] for m in body["items"]}
    assert {"offline-conversation", "offline-templates"} <= ids and "gpt-4.1" not in ids
    assert all("offline" in m["id"] for m in body["items"] if m["offline"])


def test_submit_validation_errors(api: TestClient, alice) -> None:
    cid = api.post("/api/chat/contexts", json={}, headers=alice).json()["id"]
    empty = api.post("/api/query/submit", json={"contextId": cid, "prompt": "   "}, headers=alice)
    assert empty.status_code == 400 and "Write what" in empty.json()["error"]
    missing = api.post("/api/query/submit", json={"prompt": "a cube"}, headers=alice)
    assert missing.status_code == 400 and "contextId" in missing.json()["error"]
    foreign = api.post("/api/query/submit", json={"contextId": str(uuid.uuid4()), "prompt": "a cube"}, headers=alice)
    assert foreign.status_code == 404
    assert api.get(f"/api/chat/contexts/{cid}/items", headers=alice).json()["total"] == 0


def _wait_state(api, qid, headers, timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/query/{qid}", headers=headers).json()
        if body["state"] in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"query {qid} did not finish: {body}")


def test_prompt_to_files_through_the_api(live_api: TestClient, make_user) -> None:
    make_user("carol@example.com")
    carol = _login(live_api, "carol@example.com")
    make_user("dave@example.com")
    dave = _login(live_api, "dave@example.com")
    cid = live_api.post("/api/chat/contexts", json={}, headers=carol).json()["id"]
    resp = live_api.post("/api/query/submit", json={"contextId": cid, "prompt": "a 80 x 50 x 5 mm plate with four 4 mm holes"},
                         headers=carol)
    assert resp.status_code == 202
    ids = resp.json()
    assert set(ids) == {"queryId", "userItemId", "assistantItemId"}
    status = _wait_state(live_api, ids["queryId"], carol)
    assert status["state"] == "completed", status
    assert live_api.get(f"/api/query/{ids['queryId']}", headers=dave).status_code == 404

    items = live_api.get(f"/api/chat/contexts/{cid}/items", headers=carol).json()
    assert items["total"] == 2
    answer = items["items"][1]
    model = next(s for s in answer["segments"] if s["type"] == "model")
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([80, 50, 5], abs=0.01)
    by_format = {f["format"]: f for f in model["files"]}
    assert set(by_format) == {"stl", "step", "3mf", "glb", "py", "png", "topology"}

    step = live_api.get(f"/api/files/{by_format['step']['id']}", headers=carol)
    assert step.status_code == 200 and step.content.startswith(b"ISO-10303-21")
    assert "attachment" in step.headers["content-disposition"] and step.headers["content-type"] == "model/step"
    glb = live_api.get(f"/api/files/{by_format['glb']['id']}", headers=carol)
    assert glb.content[:4] == b"glTF" and glb.headers["content-type"] == "model/gltf-binary"
    assert live_api.get(f"/api/files/{by_format['step']['id']}", headers=dave).status_code == 404

    rated = live_api.patch(f"/api/chat/contexts/{cid}/items/{answer['id']}", json={"rating": 1}, headers=carol)
    assert rated.json()["rating"] == 1
    assert live_api.patch(f"/api/chat/contexts/{cid}/items/{answer['id']}", json={"rating": 3}, headers=carol).status_code == 400

    regen = live_api.post("/api/query/regenerate", json={"assistantItemId": answer["id"]}, headers=carol)
    assert regen.status_code == 202
    assert _wait_state(live_api, regen.json()["queryId"], carol)["state"] == "completed"
    assert live_api.get(f"/api/chat/contexts/{cid}/items", headers=carol).json()["total"] == 3

    assert live_api.delete(f"/api/chat/contexts/{cid}", headers=carol).status_code == 204
    assert live_api.get(f"/api/files/{by_format['stl']['id']}", headers=carol).status_code == 404


def test_upload_checks_content_and_ownership(api: TestClient, alice, bob) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 128, 255)).save(buf, "PNG")
    ok = api.post("/api/files", files={"file": ("../../sketch.png", buf.getvalue(), "image/png")}, headers=alice)
    assert ok.status_code == 201 and ok.json()["filename"] == "sketch.png" and ok.json()["format"] == "png"
    fid = ok.json()["id"]
    assert api.get(f"/api/files/{fid}", headers=alice).content == buf.getvalue()
    assert api.get(f"/api/files/{fid}", headers=bob).status_code == 404
    fake = api.post("/api/files", files={"file": ("photo.png", b"#!/bin/sh\nrm -rf /\n", "image/png")}, headers=alice)
    assert fake.status_code == 400 and "Only PNG, JPEG and WebP" in fake.json()["error"]
    assert api.delete(f"/api/files/{fid}", headers=bob).status_code == 404
    assert api.delete(f"/api/files/{fid}", headers=alice).status_code == 204
    assert api.get(f"/api/files/{fid}", headers=alice).status_code == 404


def test_chat_list_has_the_current_versions_thumbnail(api: TestClient, alice, bob) -> None:
    from sqlmodel import select

    from chat3d.db.engine import session_scope
    from chat3d.db.models import ChatContext, ItemRole, User
    from chat3d.domain import chats, files

    modelled = api.post("/api/chat/contexts", json={"name": "Plate"}, headers=alice).json()["id"]
    empty = api.post("/api/chat/contexts", json={"name": "Empty"}, headers=alice).json()
    assert empty["thumbnailUrl"] is None
    with session_scope() as s:
        owner = s.exec(select(User).where(User.email == "alice@example.com")).one()
        ctx = s.get(ChatContext, uuid.UUID(modelled))
        item = chats.add_item(s, ctx, ItemRole.assistant, [])
        refs = []
        png = io.BytesIO()
        Image.new("RGBA", (4, 4), (90, 120, 160, 255)).save(png, format="PNG")
        for fmt, data in (("glb", b"glb"), ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"), ("png", png.getvalue())):
            row = files.store_bytes(s, owner.id, data, fmt=fmt, filename=f"model.{fmt}", context_id=ctx.id, item_id=item.id)
            refs.append({"id": str(row.id), "format": fmt, "filename": row.filename, "size": row.size})
        item.segments = [{"type": "model", "files": refs, "code": "", "metrics": {}}]
        s.add(item)
        png_id = refs[2]["id"]
        # A chat whose only version is from before PNG thumbnails: its stored SVG (program-written) is not used.
        old = chats.create_context(s, owner.id, name="Old")
        old_item = chats.add_item(s, old, ItemRole.assistant, [])
        old_refs = []
        for fmt, data in (("glb", b"glb"), ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>")):
            row = files.store_bytes(s, owner.id, data, fmt=fmt, filename=f"model.{fmt}", context_id=old.id, item_id=old_item.id)
            old_refs.append({"id": str(row.id), "format": fmt, "filename": row.filename, "size": row.size})
        old_item.segments = [{"type": "model", "files": old_refs, "code": "", "metrics": {}}]
        s.add(old_item)

    listed = {c["name"]: c for c in api.get("/api/chat/contexts", headers=alice).json()["items"]}
    assert listed["Plate"]["thumbnailUrl"] == f"/api/files/{png_id}"
    assert listed["Empty"]["thumbnailUrl"] is None
    assert listed["Old"]["thumbnailUrl"] is None  # neutral icon
    assert api.get(f"/api/chat/contexts/{modelled}", headers=alice).json()["thumbnailUrl"] == f"/api/files/{png_id}"
    # The thumbnail is the owner's file: served to her, 404 for anyone else.
    got = api.get(listed["Plate"]["thumbnailUrl"], headers=alice)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert api.get(listed["Plate"]["thumbnailUrl"], headers=bob).status_code == 404
    assert TestClient(api.app).get(listed["Plate"]["thumbnailUrl"]).status_code == 401

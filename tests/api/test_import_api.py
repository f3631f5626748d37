"""POST /api/chat/import: a STEP or STL file starts a chat whose first version is the imported part."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from chat3d.api import create_api
from chat3d.db.engine import session_scope
from chat3d.db.models import ChatContext, StoredFile
from chat3d.settings import reset_settings_cache
from tests.api.test_chat_api import _login
from tests.support.cad_files import BLOCK_SIZE, BLOCK_VOLUME, CORRUPT_STEP, block_files


def _import(client: TestClient, headers, name: str, data: bytes, **form):
    return client.post("/api/chat/import", files={"file": (name, data, "application/octet-stream")}, data=form,
                       headers=headers)


def _counts() -> tuple[int, int]:
    with session_scope() as s:
        return len(s.exec(select(ChatContext)).all()), len(s.exec(select(StoredFile)).all())


def test_step_import_makes_a_chat_with_an_imported_version(live_api: TestClient, make_user) -> None:
    make_user("maker@example.com")
    me = _login(live_api, "maker@example.com")
    resp = _import(live_api, me, "../../etc/Bracket v2.step", block_files()["step"])
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["format"] == "step" and out["name"] == "Bracket v2.step"
    assert out["metrics"]["bbox_size_mm"] == pytest.approx(list(BLOCK_SIZE), abs=0.01)

    ctx = live_api.get(f"/api/chat/contexts/{out['contextId']}", headers=me).json()
    assert ctx["name"] == "Bracket v2"
    items = live_api.get(f"/api/chat/contexts/{out['contextId']}/items", headers=me).json()["items"]
    assert [i["role"] for i in items] == ["user", "assistant"]
    model = next(s for s in items[1]["segments"] if s["type"] == "model")
    assert model["origin"] == "imported"
    assert 'import_step("Bracket_v2.step")' in model["code"]
    assert model["inputs"][0]["name"] == "Bracket_v2.step"
    assert {f["format"] for f in model["files"]} >= {"stl", "step", "3mf", "glb", "py", "png"}

    versions = live_api.get(f"/api/chat/contexts/{out['contextId']}/versions", headers=me).json()["items"]
    assert len(versions) == 1 and versions[0]["origin"] == "imported" and versions[0]["current"]
    glb = live_api.get(f"/api/files/{versions[0]['glbFileId']}", headers=me)
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"
    listed = live_api.get("/api/chat/contexts", headers=me).json()["items"]
    assert next(c for c in listed if c["id"] == out["contextId"])["thumbnailUrl"]
    # The original file is kept (downloadable by its owner) under its display name.
    src = live_api.get(f"/api/files/{model['inputs'][0]['id']}", headers=me)
    assert src.status_code == 200 and src.content == block_files()["step"]

    # A share link shows the imported part's files, but never the original file or its name.
    token = live_api.post(f"/api/chat/items/{out['itemId']}/share", json={}, headers=me).json()["token"]
    public = TestClient(live_api.app)
    shared = public.get(f"/api/share/{token}")
    assert shared.status_code == 200 and "glb" in {f["format"] for f in shared.json()["files"]}
    assert model["inputs"][0]["id"] not in shared.text and "Bracket" not in shared.text
    assert public.get(f"/api/share/{token}/files/{model['inputs'][0]['id']}").status_code == 404

    # Someone else can neither read the chat nor import into it.
    make_user("other@example.com")
    other = _login(live_api, "other@example.com")
    assert live_api.get(f"/api/chat/contexts/{out['contextId']}/items", headers=other).status_code == 404
    assert _import(live_api, other, "x.step", block_files()["step"], contextId=out["contextId"]).status_code == 404

    # Importing into an existing chat adds a version there and makes it current.
    again = _import(live_api, me, "second.stl", block_files()["stl"], contextId=out["contextId"])
    assert again.status_code == 201, again.text
    assert again.json()["contextId"] == out["contextId"]
    versions = live_api.get(f"/api/chat/contexts/{out['contextId']}/versions", headers=me).json()["items"]
    assert [v["current"] for v in versions] == [False, True]


def test_stl_import_binary_and_ascii(live_api: TestClient, make_user) -> None:
    make_user("maker@example.com")
    me = _login(live_api, "maker@example.com")
    for name, key in (("block.stl", "stl"), ("block-ascii.STL", "stl_ascii")):
        resp = _import(live_api, me, name, block_files()[key])
        assert resp.status_code == 201, resp.text
        m = resp.json()["metrics"]
        assert m["bbox_size_mm"] == pytest.approx(list(BLOCK_SIZE), abs=0.05)
        assert m["volume_mm3"] == pytest.approx(BLOCK_VOLUME, rel=0.02)
        assert m["solids"] == 1


def test_bad_files_are_clear_errors_and_store_nothing(live_api: TestClient, make_user) -> None:
    make_user("maker@example.com")
    me = _login(live_api, "maker@example.com")
    before = _counts()
    empty = _import(live_api, me, "part.step", b"")
    assert empty.status_code == 400 and empty.json()["error"] == "The file is empty."
    wrong = _import(live_api, me, "part.step", b"%PDF-1.7 pretending to be a STEP file")
    assert wrong.status_code == 400 and "Only STEP (.step, .stp) and STL" in wrong.json()["error"]
    corrupt = _import(live_api, me, "broken.step", CORRUPT_STEP)
    assert corrupt.status_code == 422, corrupt.text
    assert "broken.step could not be imported" in corrupt.json()["error"]
    assert "STEP" in corrupt.json()["error"]
    assert _import(live_api, me, "x.step", block_files()["step"], contextId="not-a-chat").status_code == 404
    assert _counts() == before
    live_api.cookies.clear()
    assert live_api.post("/api/chat/import", files={"file": ("a.step", block_files()["step"])}).status_code == 401


def test_too_big_is_refused_before_rendering(accounts_env, make_user, monkeypatch) -> None:
    monkeypatch.setenv("IMPORT_MAX_BYTES", "4096")
    reset_settings_cache()
    make_user("maker@example.com")
    client = TestClient(create_api())
    me = _login(client, "maker@example.com")
    big = _import(client, me, "big.step", b"ISO-10303-21;\n" + b"x" * 20_000)
    assert big.status_code == 400 and "at most" in big.json()["error"]
    just_over = _import(client, me, "big.step", b"ISO-10303-21;\n" + b"x" * 4090)
    assert just_over.status_code == 400 and "Imported files can be at most" in just_over.json()["error"]

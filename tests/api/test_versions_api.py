"""Versions REST: parameters and edited code re-render (real render service), list, compare, restore, fork."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.api.test_chat_api import _login

PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"


def _run_plate(client: TestClient, headers) -> tuple[str, str]:
    cid = client.post("/api/chat/contexts", json={}, headers=headers).json()["id"]
    sub = client.post("/api/query/submit", json={"contextId": cid, "prompt": PLATE}, headers=headers).json()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = client.get(f"/api/query/{sub['queryId']}", headers=headers).json()["state"]
        if state in ("completed", "failed"):
            break
        time.sleep(0.3)
    assert state == "completed"
    return cid, sub["assistantItemId"]


def _owner_stranger_and_plate(client: TestClient, make_user, name: str) -> tuple[dict, dict, str, str]:
    """Two signed-in users, and a finished plate in a chat of the first: (owner, stranger, chat id, version id)."""
    make_user(f"{name}@example.com")
    me = _login(client, f"{name}@example.com")
    make_user(f"{name}-stranger@example.com")
    other = _login(client, f"{name}-stranger@example.com")
    cid, v1 = _run_plate(client, me)
    return me, other, cid, v1


def test_parameters_render_list_restore_fork(live_api: TestClient, make_user) -> None:
    me, other, cid, v1 = _owner_stranger_and_plate(live_api, make_user, "maker")

    params = live_api.get(f"/api/chat/items/{v1}/parameters", headers=me).json()["items"]
    assert [p["name"] for p in params][:3] == ["length", "width", "thickness"]
    assert params[0]["unit"] == "mm" and params[0]["min"] == 1 and params[0]["max"] == 1000

    resp = live_api.post(f"/api/chat/items/{v1}/parameters", json={"values": {"length": 100}}, headers=me)
    assert resp.status_code == 200, resp.text
    v2 = resp.json()
    assert v2["ok"] and v2["metrics"]["bbox_size_mm"] == pytest.approx([100, 50, 5], abs=0.01)

    bad = live_api.post(f"/api/chat/items/{v1}/parameters", json={"values": {"length": 5000}}, headers=me)
    assert bad.status_code == 400 and "at most 1000" in bad.json()["error"]

    code = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"][-1]["segments"][1]["code"]
    broken = live_api.post(f"/api/chat/items/{v2['itemId']}/render", json={"code": code + "\nresult = nope\n"}, headers=me)
    assert broken.status_code == 200 and broken.json()["ok"] is False
    assert "nope" in broken.json()["error"]["message"] and broken.json()["error"]["line"]

    listed = live_api.get(f"/api/chat/contexts/{cid}/versions", headers=me).json()
    assert listed["total"] == 2 and [v["origin"] for v in listed["items"]] == ["prompt", "parameters"]
    assert listed["items"][1]["current"] and listed["items"][0]["thumbnailFileId"]
    thumb = live_api.get(f"/api/files/{listed['items'][0]['thumbnailFileId']}", headers=me)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert thumb.headers["content-type"] == "image/png"

    diff = live_api.get(f"/api/chat/contexts/{cid}/versions/compare?a={v1}&b={v2['itemId']}", headers=me).json()
    assert diff["parameters"] == [{"name": "length", "a": 80.0, "b": 100.0}]

    assert live_api.post(f"/api/chat/contexts/{cid}/versions/{v1}/restore", headers=me).json()["currentItemId"] == v1
    assert live_api.get(f"/api/chat/contexts/{cid}/versions", headers=me).json()["items"][0]["current"]

    fork = live_api.post(f"/api/chat/contexts/{cid}/fork", json={"itemId": v1}, headers=me)
    assert fork.status_code == 201
    fork_items = live_api.get(f"/api/chat/contexts/{fork.json()['id']}/items", headers=me).json()
    assert fork_items["total"] == 2

    # Another user: everything is 404.
    for method, path, body in [
        ("GET", f"/api/chat/items/{v1}/parameters", None),
        ("POST", f"/api/chat/items/{v1}/parameters", {"values": {"length": 90}}),
        ("POST", f"/api/chat/items/{v1}/render", {"code": "result = 1"}),
        ("GET", f"/api/chat/contexts/{cid}/versions", None),
        ("POST", f"/api/chat/contexts/{cid}/versions/{v1}/restore", None),
        ("POST", f"/api/chat/contexts/{cid}/fork", {"itemId": v1}),
    ]:
        assert live_api.request(method, path, json=body, headers=other).status_code == 404, path


def test_a_versions_faces_and_edges_for_picking_carry_the_domains_words(live_api: TestClient, make_user) -> None:
    """The viewer's picking list (issue 27): every face and edge of the version with its words, the same
    words the composer's chips and the models get (selection.describe); only the owner can read it."""
    me, other, _cid, v1 = _owner_stranger_and_plate(live_api, make_user, "picker")

    resp = live_api.get(f"/api/chat/items/{v1}/topology", headers=me)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["version"] == v1 and doc["faceCount"] == len(doc["faces"]) == 10 and doc["note"] == ""
    labels = [f["label"] for f in doc["faces"]]
    assert "top face, 80 × 50 mm, z = 5" in labels and "bottom face, 80 × 50 mm, z = 0" in labels
    assert sum(label.startswith("hole Ø4 at (") for label in labels) == 4
    assert {f["id"][0] for f in doc["faces"]} == {"F"} and all(f["solid"] == 1 for f in doc["faces"])
    edges = [e["label"] for e in doc["edges"]]
    assert edges.count("edge, 80 mm along x") == 4 and sum(e.startswith("circular edge Ø4 at") for e in edges) == 8
    assert set(doc["faces"][0]) == {"id", "solid", "type", "label"}  # words, not the table's geometry

    assert live_api.get(f"/api/chat/items/{v1}/topology", headers=other).status_code == 404
    assert live_api.get("/api/chat/items/not-an-id/topology", headers=me).status_code in (400, 404)


def test_a_prompt_over_rest_can_point_at_faces_of_one_of_its_own_versions(live_api: TestClient, make_user) -> None:
    """REST takes the same selection as the composer: ids from /topology, rows looked up on the server and kept
    with the user's message in their words; another user's version is refused, and a malformed one is a 400 naming it."""
    me, other, cid, v1 = _owner_stranger_and_plate(live_api, make_user, "rest-picker")
    faces = live_api.get(f"/api/chat/items/{v1}/topology", headers=me).json()["faces"]
    top = next(f for f in faces if f["label"] == "top face, 80 × 50 mm, z = 5")

    body = {"contextId": cid, "prompt": "make this 8 mm", "selection": {"version": v1, "ids": [top["id"], "F999"]}}
    sub = live_api.post("/api/query/submit", json=body, headers=me)
    assert sub.status_code == 202, sub.text
    items = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"]
    said = next(i for i in items if i["id"] == sub.json()["userItemId"])
    picked = next(s for s in said["segments"] if s["type"] == "selection")
    assert picked["version"] == v1 and [i["label"] for i in picked["items"]] == ["top face, 80 × 50 mm, z = 5"]

    other_cid = live_api.post("/api/chat/contexts", json={}, headers=other).json()["id"]
    stolen = {"contextId": other_cid, "prompt": "make this 8 mm", "selection": {"version": v1, "ids": [top["id"]]}}
    refused = live_api.post("/api/query/submit", json=stolen, headers=other)
    assert refused.status_code == 404, refused.text
    assert live_api.get(f"/api/chat/contexts/{other_cid}/items", headers=other).json()["total"] == 0  # nothing kept

    no_such = {**body, "selection": {"version": "not-an-id", "ids": ["F1"]}}
    assert live_api.post("/api/query/submit", json=no_such, headers=me).status_code == 404
    too_many = {**body, "selection": {"version": v1, "ids": [f"F{n}" for n in range(13)]}}
    resp = live_api.post("/api/query/submit", json=too_many, headers=me)
    assert resp.status_code == 400 and "selection" in resp.json()["error"], resp.text

"""Issue 26 workspace bugs seen through the API: downloads named after the chat, Chat3D's own download imports
again, and a deterministic regeneration says it changed nothing instead of storing a copy (real render service)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.test_chat_api import _login, _wait_state

PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"


def test_downloads_are_named_after_the_chat_and_import_again(live_api: TestClient, make_user) -> None:
    make_user("namer@example.com")
    me = _login(live_api, "namer@example.com")
    cid = live_api.post("/api/chat/contexts", json={}, headers=me).json()["id"]
    sub = live_api.post("/api/query/submit", json={"contextId": cid, "prompt": PLATE}, headers=me).json()
    assert _wait_state(live_api, sub["queryId"], me)["state"] == "completed"
    assert live_api.patch(f"/api/chat/contexts/{cid}", json={"name": "Flansch Größe 3"}, headers=me).status_code == 200

    items = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"]
    model = next(s for s in items[1]["segments"] if s["type"] == "model")
    by_format = {f["format"]: f for f in model["files"]}
    assert by_format["step"]["filename"] == "model.step"  # the stored name stays the render job's
    step = live_api.get(f"/api/files/{by_format['step']['id']}", headers=me)
    disposition = step.headers["content-disposition"]
    # An ASCII fallback for old clients, and the UTF-8 name (RFC 5987) for the rest.
    assert disposition == ("attachment; filename=\"flansch-grosse-3-v1.step\"; "
                           "filename*=UTF-8''flansch-gr%C3%B6%C3%9Fe-3-v1.step"), disposition
    stl = live_api.get(f"/api/files/{by_format['stl']['id']}", headers=me)
    assert 'filename="flansch-grosse-3-v1.stl"' in stl.headers["content-disposition"]
    # Quotes, semicolons and path characters in a chat's name never reach the header: only the slug does.
    live_api.patch(f"/api/chat/contexts/{cid}", json={"name": 'Ev"il; filename=x.exe \\..\\/ 日本'}, headers=me)
    hostile = live_api.get(f"/api/files/{by_format['step']['id']}", headers=me).headers["content-disposition"]
    assert hostile == ("attachment; filename=\"ev-il-filename-x-exe-v1.step\"; "
                       "filename*=UTF-8''ev-il-filename-x-exe-%E6%97%A5%E6%9C%AC-v1.step"), hostile
    live_api.patch(f"/api/chat/contexts/{cid}", json={"name": "Flansch Größe 3"}, headers=me)

    # The download as a browser saves it under the stored name (`model.step`) imports as a new chat.
    resp = live_api.post("/api/chat/import", files={"file": ("model.step", step.content, "application/octet-stream")},
                         headers=me)
    assert resp.status_code == 201, resp.text
    assert resp.json()["metrics"]["bbox_size_mm"] == model["metrics"]["bbox_size_mm"]

    # Regenerating with the deterministic offline model writes the same program: no second version, and it says so.
    regen = live_api.post("/api/query/regenerate", json={"assistantItemId": items[1]["id"]}, headers=me)
    assert regen.status_code == 202
    assert _wait_state(live_api, regen.json()["queryId"], me)["state"] == "completed"
    versions = live_api.get(f"/api/chat/contexts/{cid}/versions", headers=me).json()
    assert versions["total"] == 1, versions
    answer = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"][-1]
    assert answer["id"] == regen.json()["assistantItemId"]
    text = " ".join(s.get("text", "") for s in answer["segments"] if s["type"] == "text")
    assert "same program as Version 1" in text and "no new version was stored" in text, answer["segments"]
    assert not any(s["type"] == "model" for s in answer["segments"])
    # Regenerating that answer again compares with the version behind it: still no copy.
    again = live_api.post("/api/query/regenerate", json={"assistantItemId": answer["id"]}, headers=me)
    assert _wait_state(live_api, again.json()["queryId"], me)["state"] == "completed"
    assert live_api.get(f"/api/chat/contexts/{cid}/versions", headers=me).json()["total"] == 1
    last = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"][-1]
    assert "same program as Version 1" in " ".join(s.get("text", "") for s in last["segments"] if s["type"] == "text")

"""Named parts through the API (issue 27 step 4), with the real render service: a program of two labelled solids
gives a version whose parts are "base" and "lid", each measured and each with its own STL/STEP/3MF download
holding that part only; a share link offers the same; a single solid still works and has no per-part files."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chat3d.domain import parts
from tests.api.test_chat_api import _login
from tests.api.test_versions_api import _run_plate
from tests.support.cad_files import mf_objects, step_products, stl_extent_and_volume

TWO_PARTS = """from build123d import *
base = Box(40, 40, 4)
base.label = "base"
lid = Pos(40, 0, 10) * Cylinder(5, 20)
lid.label = "lid"
result = Compound(children=[base, lid])
"""
BASE = {"size": [40.0, 40.0, 4.0], "volume": 6400.0}
LID = {"size": [10.0, 10.0, 20.0], "volume": 1570.8}


def test_two_named_parts_have_their_own_downloads_and_shares_offer_them(live_api: TestClient, make_user,
                                                                         tmp_path) -> None:
    make_user("parts@example.com")
    me = _login(live_api, "parts@example.com")
    make_user("stranger@example.com")
    stranger = _login(live_api, "stranger@example.com")
    cid, v1 = _run_plate(live_api, me)
    live_api.patch(f"/api/chat/contexts/{cid}", json={"name": "Box kit"}, headers=me)

    made = live_api.post(f"/api/chat/items/{v1}/render", json={"code": TWO_PARTS}, headers=me)
    assert made.status_code == 200 and made.json()["ok"], made.text
    v2 = made.json()["itemId"]
    assert [(p["name"], p["solid"]) for p in made.json()["metrics"]["parts"]] == [("base", 1), ("lid", 2)]
    items = live_api.get(f"/api/chat/contexts/{cid}/items", headers=me).json()["items"]
    model = next(s for s in next(i for i in items if i["id"] == v2)["segments"] if s["type"] == "model")
    table = model["metrics"]["parts"]
    assert table[0]["size"] == pytest.approx(BASE["size"]) and table[1]["volume"] == pytest.approx(LID["volume"], abs=0.5)
    bundle = next(f["id"] for f in model["files"] if f["format"] == "parts")

    for n, (name, want) in enumerate((("base", BASE), ("lid", LID)), 1):
        stl = live_api.get(f"/api/files/{bundle}/parts/{n}/stl", headers=me)
        assert stl.status_code == 200 and stl.headers["content-type"] == "model/stl"
        assert f'filename="box-kit-v2-{name}.stl"' in stl.headers["content-disposition"]
        size, volume = stl_extent_and_volume(stl.content)
        assert size == pytest.approx(want["size"], abs=0.05) and volume == pytest.approx(want["volume"], rel=0.02)
        step = live_api.get(f"/api/files/{bundle}/parts/{n}/step", headers=me)
        (product,) = step_products(step.content, tmp_path)
        assert product[0] == name and product[1] == pytest.approx(want["volume"], abs=0.5)
        mf = live_api.get(f"/api/files/{bundle}/parts/{n}/3mf", headers=me)
        assert mf.headers["content-type"] == "model/3mf"
        assert [o[0] for o in mf_objects(mf.content, tmp_path)] == [name]
    # The whole model's STEP and 3MF hold both, by name.
    whole = {f["format"]: f["id"] for f in model["files"]}
    assert [p[0] for p in step_products(live_api.get(f"/api/files/{whole['step']}", headers=me).content, tmp_path)] \
        == ["base", "lid"]
    assert [o[0] for o in mf_objects(live_api.get(f"/api/files/{whole['3mf']}", headers=me).content, tmp_path)] \
        == ["base", "lid"]

    for path in (f"/api/files/{bundle}/parts/3/stl", f"/api/files/{bundle}/parts/1/obj",
                 f"/api/files/{bundle}/parts/x/stl", f"/api/files/{whole['stl']}/parts/1/stl"):
        assert live_api.get(path, headers=me).status_code == 404, path
    assert live_api.get(f"/api/files/{bundle}/parts/1/stl", headers=stranger).status_code == 404

    # A share link of that version lists the parts and serves each part's files to anyone with the link.
    token = live_api.post(f"/api/chat/items/{v2}/share", json={}, headers=me).json()["token"]
    shared = live_api.get(f"/api/share/{token}").json()
    assert [(p["number"], p["name"], p["formats"]) for p in shared["parts"]] == \
        [(1, "base", ["stl", "step", "3mf"]), (2, "lid", ["stl", "step", "3mf"])]
    lid = live_api.get(f"/api/share/{token}/parts/2/stl")
    assert lid.status_code == 200 and 'filename="model-lid.stl"' in lid.headers["content-disposition"]
    assert stl_extent_and_volume(lid.content)[0] == pytest.approx(LID["size"], abs=0.05)
    assert live_api.get(f"/api/share/{token}/parts/3/stl").status_code == 404

    # The plate (one solid): one part, no per-part files; its share lists none.
    plate = next(s for s in items[1]["segments"] if s["type"] == "model")
    assert [p["name"] for p in plate["metrics"]["parts"]] == ["Part 1"]
    assert "parts" not in {f["format"] for f in plate["files"]}
    token1 = live_api.post(f"/api/chat/items/{v1}/share", json={}, headers=me).json()["token"]
    assert live_api.get(f"/api/share/{token1}").json()["parts"] == []
    assert live_api.get(f"/api/share/{token1}/parts/1/stl").status_code == 404


def test_the_app_keeps_only_plain_part_names() -> None:
    rows = [{"name": "<b>x</b>", "size": [1, 2, 3], "volume": 6, "bbox": {"min": [0, 0, 0], "max": [1, 2, 3]}},
            {"name": "a\u202eb", "size": [1, 2], "volume": "big"}, {"name": "x" * 41}, {"name": "lid"}]
    got = parts.checked_parts(rows)
    assert [r["name"] for r in got] == ["Part 1", "Part 2", "Part 3", "lid"]
    assert got[0]["size"] == [1.0, 2.0, 3.0] and got[1]["size"] is None and got[1]["volume"] is None
    assert parts.checked_parts("nope") is None and parts.checked_parts([1, 2]) is None

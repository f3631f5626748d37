"""Issue 27: the post step's face/edge table (faces.json) and the face/edge nodes it writes into the GLB.

`finish()` runs no user code, so it is called in-process on B-reps made here (as test_postrender does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from render_helpers import answer

from render_service import postrender, topology


def _finish(tmp_path: Path, shape, name: str = "job") -> tuple[dict, dict, dict]:
    src, out = tmp_path / name, tmp_path / f"{name}-out"
    src.mkdir()
    out.mkdir()
    postrender.write_brep(shape, str(src / postrender.BREP_NAME))
    got = postrender.finish(src, out, max_output_bytes=16 << 20, formats={"glb", "topology"})
    assert got["ok"] is True, got
    assert got["files"] == {"glb": "model.glb", "topology": "faces.json"}
    table = json.loads((out / "faces.json").read_text(encoding="utf-8"))
    doc, _bin = topology._read_glb((out / "model.glb").read_bytes())
    return got, table, doc


def _plate():
    import build123d as bd

    return bd.Box(80, 50, 10) - bd.Pos(-32, -17, 0) * bd.Cylinder(2, 10)


def test_plate_faces_and_edges_are_described_and_tagged_in_the_glb(tmp_path):
    _got, table, doc = _finish(tmp_path, _plate())
    faces = {f["id"]: f for f in table["faces"]}
    assert table["face_count"] == len(faces) == 7 and table["note"] == "" and table["glb_tagged"] is True
    top = [f for f in faces.values() if f["type"] == "plane" and f["normal"] == [0, 0, 1]]
    assert len(top) == 1 and top[0]["centre"][2] == 5 and top[0]["bbox"]["min"][:2] == [-40, -25]
    assert top[0]["area"] == pytest.approx(80 * 50 - 3.14159 * 4, abs=0.5)
    hole = [f for f in faces.values() if f["type"] == "cylinder"]
    assert len(hole) == 1 and hole[0]["inner"] is True and hole[0]["radius"] == 2
    assert hole[0]["axis_point"][:2] == [-32, -17] and hole[0]["length"] == 10
    # 12 box edges + the hole's two circles and its seam line
    assert table["edge_count"] == len(table["edges"]) == 15
    circles = [e for e in table["edges"] if e["type"] == "circle"]
    assert len(circles) == 2 and all(e["radius"] == 2 and hole[0]["id"] in e["faces"] for e in circles)
    # The GLB: every face a node F<n> under solid_1 (one mesh each), every edge a line strip E<n>.
    nodes = doc["nodes"]
    solid = next(n for n in nodes if n.get("name") == "solid_1")
    assert "mesh" not in solid and sorted(nodes[i]["name"] for i in solid["children"]) == sorted(faces)
    edge_group = next(n for n in nodes if n.get("name") == "edges")
    lines = [nodes[i] for i in edge_group["children"]]
    assert [n["name"] for n in lines] == [e["id"] for e in table["edges"]]
    assert all(doc["meshes"][n["mesh"]]["primitives"][0]["mode"] == 3 for n in lines)


def test_ids_are_the_same_every_time_a_version_is_made(tmp_path):
    """Same B-rep bytes, same traversal: the table and the GLB's node names repeat exactly."""
    _g1, t1, d1 = _finish(tmp_path, _plate(), "a")
    _g2, t2, d2 = _finish(tmp_path, _plate(), "b")
    assert t1 == t2
    assert [n.get("name") for n in d1["nodes"]] == [n.get("name") for n in d2["nodes"]]


def test_two_solids_number_faces_per_solid_in_order(tmp_path):
    import build123d as bd

    got, table, doc = _finish(tmp_path, bd.Compound([bd.Box(10, 10, 10), bd.Pos(40, 0, 0) * bd.Cylinder(5, 10)]))
    assert got["solids"] == 2
    assert [f["solid"] for f in table["faces"]] == [1] * 6 + [2] * 3
    assert [f["id"] for f in table["faces"]] == [f"F{i}" for i in range(1, 10)]
    names = {n.get("name"): n for n in doc["nodes"]}
    assert len(names["solid_2"]["children"]) == 3


def test_edge_lines_of_a_moved_solid_lie_on_its_edges(tmp_path):
    """A solid placed with a location (its triangulation is stored unmoved): the highlighted edges sit on it."""
    import build123d as bd
    import numpy as np

    src, out = tmp_path / "job", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    shape = bd.Compound([bd.Box(10, 10, 10), bd.Pos(40, 0, 0) * bd.Rot(0, 0, 30) * bd.Cylinder(5, 10)])
    postrender.write_brep(shape, str(src / postrender.BREP_NAME))
    assert postrender.finish(src, out, max_output_bytes=16 << 20, formats={"glb", "topology"})["ok"] is True
    table = json.loads((out / "faces.json").read_text(encoding="utf-8"))
    doc, binary = topology._read_glb((out / "model.glb").read_bytes())
    by_name = {n.get("name"): n for n in doc["nodes"]}
    for edge in table["edges"]:
        acc = doc["accessors"][doc["meshes"][by_name[edge["id"]]["mesh"]]["primitives"][0]["attributes"]["POSITION"]]
        view = doc["bufferViews"][acc["bufferView"]]
        mm = np.frombuffer(binary, "<f4", acc["count"] * 3, view["byteOffset"]).reshape(-1, 3) * 1000
        if edge["solid"] == 1:  # the box at the origin
            assert np.abs(mm).max() == pytest.approx(5, abs=0.01), edge
        else:  # the cylinder's two circles and its seam, 40 mm along x
            assert np.hypot(mm[:, 0] - 40, mm[:, 1]) == pytest.approx(np.full(len(mm), 5.0), abs=0.01), edge
            assert np.abs(mm[:, 2]).max() == pytest.approx(5, abs=0.01), edge
    assert {e["solid"] for e in table["edges"]} == {1, 2}


def test_an_imported_mesh_gets_coplanar_triangles_merged_into_faces(tmp_path):
    import build123d as bd

    stl = tmp_path / "box.stl"
    bd.export_stl(bd.Box(30, 20, 10) - bd.Pos(0, 0, 5) * bd.Box(10, 10, 4), str(stl))
    solid = bd.Mesher().read(str(stl))[0]  # how an imported STL reaches a program (chat3d/pipeline/imports.py)
    assert len(solid.faces()) > topology.MESH_FACES
    _got, table, doc = _finish(tmp_path, solid)
    # An outer box with a pocket in its top: 6 outer faces, the top is one ring-shaped face, + 5 pocket faces.
    assert table["face_count"] == 11, [(f["normal"], f["triangles"]) for f in table["faces"]]
    assert "triangle mesh" in table["note"]
    top = [f for f in table["faces"] if f["normal"] == [0, 0, 1] and f["centre"][2] == 5]
    assert len(top) == 1 and top[0]["area"] == pytest.approx(30 * 20 - 10 * 10, abs=0.01)
    solid_node = next(n for n in doc["nodes"] if n.get("name") == "solid_1")
    assert len(solid_node["children"]) == 11


def test_the_table_is_capped_with_a_note(tmp_path, monkeypatch):
    import build123d as bd

    monkeypatch.setattr(topology, "MAX_FACES", 4)
    monkeypatch.setattr(topology, "MAX_EDGES", 5)
    _got, table, doc = _finish(tmp_path, _plate())
    assert len(table["faces"]) == 4 and table["face_count"] == 7 and len(table["edges"]) == 5
    assert "the table lists the first 4" in table["note"] and "edges cut at 5" in table["note"]
    solid = next(n for n in doc["nodes"] if n.get("name") == "solid_1")
    assert len(solid["children"]) == 7  # the GLB still tags every face
    del bd


PLATE_PROGRAM = """from build123d import *

with BuildPart() as plate:
    Box(80, 50, 10)
    with Locations((-32, -17, 0), (30, 15, 0)):
        Hole(radius=2)
result = plate.part
"""


def _render(service, code: str, formats: list[str]) -> dict:
    with service.client(timeout=120) as c:
        r = c.post("/render", json={"code": code, "formats": formats})
    assert r.status_code == 200, r.text
    doc = answer(r)
    assert doc["ok"] is True, doc.get("error")
    doc["by_format"] = {f["format"]: f["data"] for f in doc["files"]}
    return doc


def test_the_selector_picks_exactly_the_face_it_was_made_from_in_the_sandbox(service):
    """Done-when of issue 27: each row's build123d selector, appended to the program and run by the render
    service, picks that face: thickening what it picks gives a solid on that face (bbox and volume), and
    only that face (the selectors of different faces pick different geometry)."""
    from chat3d.domain import selection

    doc = _render(service, PLATE_PROGRAM, ["glb", "topology"])
    table = json.loads(doc["by_format"]["topology"])
    assert table["face_count"] == 8
    seen = set()
    for row in table["faces"]:
        code = PLATE_PROGRAM + f"result = thicken({selection.selector(row)}, 0.2)\n"
        got = _render(service, code, ["stl"])["metrics"]
        lo, hi = row["bbox"]["min"], row["bbox"]["max"]
        for k in range(3):
            assert lo[k] - 0.25 <= got["bbox_min_mm"][k] and got["bbox_max_mm"][k] <= hi[k] + 0.25, (row, got)
        assert got["volume_mm3"] == pytest.approx(row["area"] * 0.2, rel=0.12), (row, got)
        seen.add((tuple(round(v, 1) for v in got["bbox_min_mm"]), tuple(round(v, 1) for v in got["bbox_max_mm"])))
    assert len(seen) == 8

"""Issue 27 step 4: named parts. The program's labels become plain part names; each part gets its own STL, STEP
and 3MF (parts.zip) and its own measurements; the whole-model STEP and 3MF keep the parts as named objects.

Files are read back with the libraries a user's tool would use (OCCT's XCAF STEP reader, lib3mf, the STL bytes),
and each per-part file is checked to hold that part only (its extent and volume)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from render_helpers import answer

from render_service import parts, runner, topology
from tests.support.cad_files import mf_objects, step_products, stl_extent_and_volume

TWO_PARTS = """from build123d import *
base = Box(40, 40, 4)
base.label = "base"
lid = Pos(40, 0, 10) * Cylinder(5, 20)
lid.label = "lid"
result = Compound(children=[base, lid])
"""
ALL = ["stl", "step", "3mf", "glb", "png", "topology", "parts"]
BASE = {"size": [40.0, 40.0, 4.0], "volume": 6400.0}
LID = {"size": [10.0, 10.0, 20.0], "volume": 1570.8}


def _render(tmp_path: Path, code: str) -> tuple[dict, Path]:
    out = tmp_path / "job"
    out.mkdir()
    doc = runner.build_and_export(code, ALL, str(out))
    assert doc["ok"] is True, doc
    return doc, out


def test_two_labelled_solids_are_two_named_parts_each_with_its_own_files(tmp_path):
    doc, out = _render(tmp_path, TWO_PARTS)
    table = doc["metrics"]["parts"]
    assert [(p["name"], p["solid"]) for p in table] == [("base", 1), ("lid", 2)]
    for row, want in zip(table, (BASE, LID)):
        assert row["size"] == pytest.approx(want["size"], abs=1e-3)
        assert row["volume"] == pytest.approx(want["volume"], abs=0.5)
    assert table[1]["bbox"]["min"] == pytest.approx([35, -5, 0], abs=1e-3)

    bundle = zipfile.ZipFile(out / "parts.zip")
    assert sorted(bundle.namelist()) == sorted(f"part-{n}.{e}" for n in (1, 2) for e in ("stl", "step", "3mf"))
    for n, (name, want) in enumerate((("base", BASE), ("lid", LID)), 1):
        size, volume = stl_extent_and_volume(bundle.read(f"part-{n}.stl"))
        assert size == pytest.approx(want["size"], abs=0.05) and volume == pytest.approx(want["volume"], rel=0.02)
        (product,) = step_products(bundle.read(f"part-{n}.step"), tmp_path)
        assert product[0] == name and product[1] == pytest.approx(want["volume"], abs=0.5)
        assert product[2] == pytest.approx(want["size"], abs=1e-3)
        (obj,) = mf_objects(bundle.read(f"part-{n}.3mf"), tmp_path)
        assert obj[0] == name and obj[1] == pytest.approx(want["size"], abs=0.05)


def test_whole_model_step_and_3mf_keep_the_parts_as_named_objects(tmp_path):
    _doc, out = _render(tmp_path, TWO_PARTS)
    products = step_products((out / "model.step").read_bytes(), tmp_path)
    assert [p[0] for p in products] == ["base", "lid"]
    assert [round(p[1]) for p in products] == [6400, 1571]
    objects = mf_objects((out / "model.3mf").read_bytes(), tmp_path)
    assert [o[0] for o in objects] == ["base", "lid"]
    assert objects[1][1] == pytest.approx(LID["size"], abs=0.05)
    # The GLB keeps its own node names (the viewer's solid_<n>): no program text reaches it.
    gltf, _bin = topology._read_glb((out / "model.glb").read_bytes())
    names = {n.get("name") for n in gltf["nodes"]}
    assert {"solid_1", "solid_2"} <= names and not names & {"base", "lid"}


@pytest.mark.parametrize("raw, want", [
    ("<script>alert(1)</script>lid", "alert(1) lid"),
    ('<img src=x onerror="x()">base', "base"),
    ("a\x00b\x07c\x1b[31m\u202ed\u200be", "abc[31mde"),
    ("line one\nline two\t end", "line one line two end"),
    ("x" * 5000, "x" * parts.MAX_LABEL_CHARS),
    ("   ", ""),
    (42, ""),
    ("Grundplatte Größe 3 – Ø8", "Grundplatte Größe 3 – Ø8"),
])
def test_hostile_labels_become_plain_short_text(raw, want):
    assert parts.clean_label(raw) == want


def test_part_names_are_deduplicated_and_default_to_part_n():
    assert parts.part_names(["lid", "LID", "", None, "Part 1", "lid"], 6) == \
        ["lid", "LID 2", "Part 3", "Part 4", "Part 1", "lid 3"]
    # A list that does not match the solids one to one is not used at all.
    assert parts.part_names(["a", "b", "c"], 2) == ["Part 1", "Part 2"]
    assert parts.part_names("not a list", 2) == ["Part 1", "Part 2"]
    long = ["y" * 100] * 2
    assert parts.part_names(long, 2) == ["y" * 40, "y" * 38 + " 2"]


def test_hostile_labels_from_a_program_are_neutralised_in_every_output(tmp_path):
    code = TWO_PARTS.replace('"base"', '"<b onmouseover=alert(1)>base</b>\\u202e" + "x" * 5000').replace(
        '"lid"', '"lid\\n\\x00<script>"')
    doc, out = _render(tmp_path, code)
    names = [p["name"] for p in doc["metrics"]["parts"]]
    assert names == ["base " + "x" * 35, "lid"], names
    assert [o[0] for o in mf_objects((out / "model.3mf").read_bytes(), tmp_path)] == names
    assert [p[0] for p in step_products((out / "model.step").read_bytes(), tmp_path)] == names
    for blob in ((out / "model.3mf").read_bytes(), (out / "model.step").read_bytes()):
        assert b"<script" not in blob and b"onmouseover" not in blob


def test_a_single_solid_has_one_part_and_no_parts_bundle(tmp_path):
    doc, out = _render(tmp_path, "from build123d import *\nresult = Box(10, 20, 30)\nresult.label = 'block'\n")
    assert doc["files"].get("parts") is None and not (out / "parts.zip").exists()
    assert [p["name"] for p in doc["metrics"]["parts"]] == ["block"]
    assert [p[0] for p in step_products((out / "model.step").read_bytes(), tmp_path)] == ["block"]
    (tmp_path / "plain").mkdir()
    plain, _ = _render(tmp_path / "plain", "from build123d import *\nresult = Box(10, 20, 30)\n")
    assert [p["name"] for p in plain["metrics"]["parts"]] == ["Part 1"]


def test_labels_follow_nesting_and_lists():
    import build123d as bd

    a, b, c = bd.Box(1, 1, 1), bd.Pos(3, 0, 0) * bd.Box(1, 1, 1), bd.Pos(6, 0, 0) * bd.Box(1, 1, 1)
    a.label, c.label = "a", "c"
    inner = bd.Compound(children=[b, c], label="group")
    top = bd.Compound(children=[a, inner])
    assert parts.program_labels(top, top) == ["a", "group", "c"]
    listed = [a, b]
    assert parts.program_labels(listed, bd.Compound(listed)) == ["a", ""]


def test_the_sandboxed_service_carries_labels_to_the_post_step(service):
    with service.client() as c:
        r = c.post("/render", json={"code": TWO_PARTS, "formats": ["step", "parts"]})
    assert r.status_code == 200, r.text
    doc = answer(r)
    assert [p["name"] for p in doc["metrics"]["parts"]] == ["base", "lid"]
    files = {f["format"]: f["data"] for f in doc["files"]}
    assert set(files) == {"step", "parts"}
    assert sorted(zipfile.ZipFile(io.BytesIO(files["parts"])).namelist())[:3] == ["part-1.3mf", "part-1.step",
                                                                                  "part-1.stl"]
    with service.client() as c:  # one solid: parts is asked for and simply not made
        r = c.post("/render", json={"code": "from build123d import *\nresult = Box(5, 5, 5)\n",
                                    "formats": ["stl", "parts"]})
    assert r.status_code == 200, r.text
    assert [f["format"] for f in answer(r)["files"]] == ["stl"]
    assert json.dumps(answer(r)["metrics"]["parts"][0]["name"]) == '"Part 1"'

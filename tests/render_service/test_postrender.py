"""The trusted post-render step: outputs and metrics come from the job's geometry, never from its bytes.

`finish()` is called directly for what it must refuse (it runs no user code, so in-process is fair), and
the exporter-replacement attack goes through the running service with the pre-check off, in both modes
this machine runs (root with namespaces; an ordinary user in a user namespace).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from lib3mf import Lib3MF
from PIL import Image
from render_helpers import answer

from render_service import postrender

ALL = {"stl", "step", "3mf", "glb", "png"}
MARK = "H20B-EXPORTER-REPLACED-7f3a9c"


def _brep(tmp_path: Path, shape) -> tuple[Path, Path]:
    src, out = tmp_path / "job", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    postrender.write_brep(shape, str(src / postrender.BREP_NAME))
    return src, out


def _read_3mf(data: bytes) -> list[str]:
    wrapper = Lib3MF.Wrapper(os.path.join(os.path.dirname(Lib3MF.__file__), "lib3mf"))
    model = wrapper.CreateModel()
    model.QueryReader("3mf").ReadFromBuffer(data)
    names, it = [], model.GetMeshObjects()
    while it.MoveNext():
        names.append(it.GetCurrentMeshObject().GetName())
    return names


def test_finish_recomputes_everything_from_the_brep(tmp_path):
    import build123d as bd

    two = bd.Compound([bd.Box(10, 20, 30), bd.Pos(40, 0, 0) * bd.Cylinder(5, 10)])
    src, out = _brep(tmp_path, two)
    # Whatever else the job left in its folder is not looked at.
    (src / "model.stl").write_text(MARK, encoding="utf-8")
    (src / "result.json").write_text(json.dumps({"ok": True, "metrics": {"bbox_size_mm": [1, 1, 1]}}), encoding="utf-8")
    got = postrender.finish(src, out, max_output_bytes=16 << 20, formats=ALL | {"svg", "py"})
    assert got["ok"] is True, got
    assert got["solids"] == 2 and got["valid"] is True
    assert got["size"] == pytest.approx([50, 20, 30], abs=1e-3)
    assert got["volume"] == pytest.approx(6000 + np.pi * 25 * 10, rel=1e-4)
    assert got["files"] == {f: f"model.{f}" for f in ALL}  # no svg, no py: those are not made here
    assert sorted(p.name for p in out.iterdir()) == sorted(f"model.{f}" for f in ALL)
    assert MARK.encode() not in (out / "model.stl").read_bytes()
    # Unlabelled solids are "Part n" (issue 27: named parts); the job's result.json is not where labels are read.
    assert _read_3mf((out / "model.3mf").read_bytes()) == ["Part 1", "Part 2"]
    assert (out / "model.step").read_bytes().startswith(b"ISO-10303-21;")
    glb = (out / "model.glb").read_bytes()
    assert glb[:4] == b"glTF" and b"solid_1" in glb and b"solid_2" in glb
    with Image.open(out / "model.png") as im:
        assert im.format == "PNG" and im.size == (postrender.THUMB_PX, postrender.THUMB_PX)
        assert (np.asarray(im.convert("RGBA"))[..., 3] > 0).mean() > 0.05


@pytest.mark.parametrize("plant", ["symlink", "fifo", "directory", "missing"])
def test_finish_opens_only_a_regular_model_file(tmp_path, plant):
    src, out = tmp_path / "job", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    target = tmp_path / "elsewhere.brep"
    import build123d as bd

    postrender.write_brep(bd.Box(1, 1, 1), str(target))
    path = src / postrender.BREP_NAME
    if plant == "symlink":
        path.symlink_to(target)  # a real model, but behind a link: not followed
    elif plant == "fifo":
        os.mkfifo(path)  # would block a plain open() forever
    elif plant == "directory":
        path.mkdir()
    got = postrender.finish(src, out, max_output_bytes=1 << 20, formats=ALL)
    assert got["ok"] is False and got["kind"] == "crashed", got
    assert list(out.iterdir()) == []


def test_finish_refuses_an_oversized_model_and_oversized_outputs(tmp_path):
    import build123d as bd

    src, out = _brep(tmp_path, bd.Box(10, 10, 10))
    size = (src / postrender.BREP_NAME).stat().st_size
    got = postrender.finish(src, out, max_output_bytes=size - 1, formats=ALL)
    assert got == {"ok": False, "kind": "output_too_large", "message": got["message"]} and "limit" in got["message"]
    # The model fits, one of the files made from it does not.
    heavy = bd.Sphere(50) - bd.Pos(10, 0, 0) * bd.Sphere(45)
    (tmp_path / "b").mkdir()
    src2, out2 = _brep(tmp_path / "b", heavy)
    cap = (src2 / postrender.BREP_NAME).stat().st_size + 1000
    got = postrender.finish(src2, out2, max_output_bytes=cap, formats={"stl"})
    assert got["ok"] is False and got["kind"] == "output_too_large", got


@pytest.mark.parametrize("content,kind", [
    (b"", "geometry"),
    (b"\x00" * 4096, "geometry"),
    (b"Open CASCADE Topology V1, (c) Matra-Datavision\n" + os.urandom(2048), "geometry"),
])
def test_finish_turns_damaged_models_into_a_clear_error(tmp_path, content, kind):
    src, out = tmp_path / "job", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    (src / postrender.BREP_NAME).write_bytes(content)
    got = postrender.finish(src, out, max_output_bytes=1 << 20, formats=ALL)
    assert got["ok"] is False and got["kind"] in (kind, "empty"), got
    assert got["message"]


def test_finish_measures_what_is_there_not_what_was_claimed(tmp_path):
    import build123d as bd

    face = bd.Face(bd.Wire.make_rect(10, 10))
    src, out = _brep(tmp_path, face)
    got = postrender.finish(src, out, max_output_bytes=1 << 20, formats=ALL)
    assert got["ok"] is False and got["kind"] == "not_a_shape"
    (tmp_path / "e").mkdir()
    src, out = _brep(tmp_path / "e", bd.Compound([]))
    got = postrender.finish(src, out, max_output_bytes=1 << 20, formats=ALL)
    assert got["ok"] is False and got["kind"] == "empty"


# --- the attack, through the running service -------------------------------------------------------------

# A program that tries to take over every output: it replaces the exporters and the post step's functions in
# its own process, plants finished-looking files (and the post step's answer) in its folder, tries the
# output folder, and makes result.json lie about the metrics. The part itself is an honest 20 mm cube.
REPLACE_EXPORTERS = f'''
import sys, os, json
from build123d import *
MARK = "{MARK}"
R = sys.modules["render_service.runner"]
P = sys.modules.get("render_service.postrender")
def fake(*a, **k):
    for ext in ("stl", "step", "3mf", "glb", "png", "svg"):
        try:
            with open("model." + ext, "w") as fh:
                fh.write(MARK)
        except OSError:
            pass
    return {{"ok": True, "size": [999, 999, 999], "volume": 1.0, "solids": 7, "valid": True,
            "bbox": {{"min": [0, 0, 0], "max": [999, 999, 999]}},
            "files": {{f: "model." + f for f in ("stl", "step", "3mf", "glb", "png")}}}}
for mod in [m for m in (R, P) if m is not None]:
    for name in list(vars(mod)):
        if name.startswith(("export", "render_png", "finish", "measure", "metrics", "_export", "_solid")):
            setattr(mod, name, fake)
fake()
for name in ("post.json", "job-result.json"):
    with open(name, "w") as fh:
        fh.write(json.dumps(fake()))
for d in ("/out", "../out", os.environ.get("TMPDIR", "/tmp")):
    try:
        with open(os.path.join(d, "model.stl"), "w") as fh:
            fh.write(MARK)
    except OSError:
        pass
lie = {{"ok": True, "files": {{f: "model." + f for f in ("stl", "step", "3mf", "glb", "png")}},
       "metrics": {{"bbox_size_mm": [999, 999, 999], "volume_mm3": 1.0, "solids": 7, "valid": True}}, "log": ""}}
_dumps = json.dumps
json.dumps = lambda obj, *a, **k: _dumps(lie if isinstance(obj, dict) and "ok" in obj else obj, *a, **k)
result = Box(20, 20, 20)
result.label = MARK
'''


def _contents(files: list[dict]) -> dict[str, bytes]:
    """Each returned file's bytes, with a 3MF's (zip) members and a PNG's pixels unpacked too."""
    out = {}
    for f in files:
        data = f["data"]
        out[f["format"]] = data
        if f["format"] == "3mf":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                out["3mf-unzipped"] = b"".join(z.read(n) for n in z.namelist())
    return out


@pytest.mark.parametrize("fixture", ["service_nocheck", "service_unprivileged"])
def test_replaced_exporters_reach_no_output(request, fixture):
    svc = request.getfixturevalue(fixture)
    with svc.client() as c:
        r = c.post("/render", json={"code": REPLACE_EXPORTERS, "formats": ["stl", "step", "3mf", "glb", "py"],
                                    "timeout_s": 30})
    assert r.status_code == 200, r.text[:2000]
    doc = answer(r)
    m = doc["metrics"]
    assert m["bbox_size_mm"] == pytest.approx([20, 20, 20], abs=1e-3)
    assert m["volume_mm3"] == pytest.approx(8000, rel=1e-6) and m["solids"] == 1
    got = _contents(doc["files"])
    for fmt, data in got.items():
        if fmt != "py":  # the program text itself carries the marker, of course
            assert MARK.encode() not in data, f"a program byte reached {fmt}"
    assert got["stl"][:80] != MARK.encode()[:80] and len(got["stl"]) == 84 + 50 * 12  # a cube: 12 triangles
    assert got["step"].startswith(b"ISO-10303-21;")
    assert got["glb"][:4] == b"glTF" and b"solid_1" in got["glb"]
    assert _read_3mf(got["3mf"]) == ["Part 1"]  # the lying result.json carries no labels: the default name

    # The thumbnail too: our drawing of the cube, not the planted file.
    with svc.client() as c:
        r = c.post("/render", json={"code": REPLACE_EXPORTERS, "formats": ["png"], "timeout_s": 30})
    assert r.status_code == 200, r.text[:2000]
    png = _contents(answer(r)["files"])["png"]
    assert MARK.encode() not in png
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (postrender.THUMB_PX, postrender.THUMB_PX)
        pixels = np.asarray(im.convert("RGBA"))
    assert (pixels[..., 3] > 0).mean() > 0.2  # a cube seen from a corner fills much of the square
    assert len(np.unique(pixels[pixels[..., 3] == 255][:, :3], axis=0)) >= 3  # three lit faces


@pytest.mark.parametrize("fixture", ["service_nocheck"])
def test_a_brep_of_the_programs_own_making_is_only_geometry(request, fixture):
    """The program writes model.brep itself (garbage with a marker, then nothing): a clear error, no marker."""
    svc = request.getfixturevalue(fixture)
    code = (f'import sys\nR = sys.modules["render_service.runner"]\n'
            f'def w(shape, path):\n    open(path, "w").write("{MARK}" * 100)\n'
            f'R.postrender.write_brep = w\nfrom build123d import *\nresult = Box(5, 5, 5)\n')
    with svc.client() as c:
        r = c.post("/render", json={"code": code, "formats": ["stl", "png"], "timeout_s": 30})
        assert r.status_code == 422, r.text[:2000]
        assert answer(r)["error"]["kind"] == "geometry" and MARK not in r.text
        ok = c.post("/render", json={"code": "from build123d import *\nresult = Box(5, 5, 5)\n", "formats": ["stl"]})
    assert ok.status_code == 200 and answer(ok)["metrics"]["bbox_size_mm"] == pytest.approx([5, 5, 5])


# A failing program whose result.json (it controls json.dumps in its own process) carries a failure of the wrong
# shapes: a list for the kind (unhashable), a dict for the message, a bool for the line.
FORGED_FAILURE = """
import json
_dumps = json.dumps
def forged(obj, *a, **k):
    if isinstance(obj, dict) and "ok" in obj:
        obj = {"ok": False, "error": {"kind": [], "message": {"x": 1}, "line": True, "detail": []}}
    return _dumps(obj, *a, **k)
json.dumps = forged
raise ValueError("boom")
"""


@pytest.mark.parametrize("fixture", ["service_nocheck"])
def test_a_forged_failure_of_the_wrong_shape_is_a_plain_runtime_error(request, fixture):
    """Found while typing pool.py: a list as the failure kind made the service answer 500. Now it is the
    program's own failure, kind "runtime", and the service goes on serving."""
    svc = request.getfixturevalue(fixture)
    with svc.client() as c:
        r = c.post("/render", json={"code": FORGED_FAILURE, "formats": ["stl"], "timeout_s": 30})
        assert r.status_code == 422, r.text[:2000]
        err = answer(r)["error"]
        assert err["kind"] == "runtime" and err["line"] is None and isinstance(err["message"], str)
        ok = c.post("/render", json={"code": "from build123d import *\nresult = Box(5, 5, 5)\n", "formats": ["stl"]})
    assert ok.status_code == 200 and answer(ok)["metrics"]["bbox_size_mm"] == pytest.approx([5, 5, 5])


def test_finish_under_the_file_size_rlimit_says_output_too_large(tmp_path):
    """In the service the post step runs under RLIMIT_FSIZE = the output cap: a writer cut off there is
    output_too_large, not a vague export failure."""
    import subprocess
    import sys

    import build123d as bd

    src, out = _brep(tmp_path, bd.Sphere(50) - bd.Pos(10, 0, 0) * bd.Sphere(45))
    cap = (src / postrender.BREP_NAME).stat().st_size + 4096
    script = (
        "import json, resource, signal, sys\nfrom pathlib import Path\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({cap}, {cap}))\n"
        "from render_service import postrender\n"
        f"print(json.dumps(postrender.finish(Path({str(src)!r}), Path({str(out)!r}), max_output_bytes={cap}, "
        "formats={'stl', 'glb', '3mf', 'step', 'png'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(postrender.__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["ok"] is False and got["kind"] == "output_too_large", got

"""Input files: an imported STEP/STL travels with the job, is written into the sandboxed job folder as
plain data, and the program reads it by its bare name; nothing else becomes readable."""

from __future__ import annotations

import base64

import pytest
from render_helpers import CORPUS, answer

CUBE = (CORPUS / "parts" / "01_cube.py").read_text(encoding="utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _render(service, code, inputs=None, formats=("step", "stl", "glb")):
    body = {"code": code, "formats": list(formats)}
    if inputs is not None:
        body["inputs"] = inputs
    with service.client() as c:
        return c.post("/render", json=body)


@pytest.fixture(scope="module")
def exported(service):
    """A real STEP and STL of a corpus-like part, made by the render service itself."""
    code = (
        "from build123d import *\n"
        "result = Box(60, 30, 12) - Pos(15, 0, 0) * Cylinder(5, 20)\n"
    )
    r = _render(service, code, formats=("step", "stl"))
    assert r.status_code == 200, r.text
    files = {f["format"]: f["data"] for f in answer(r)["files"]}
    return files


def test_step_input_is_imported_and_edited_around(service, exported):
    code = (
        "from build123d import *\n"
        'imported = import_step("part.step")\n'
        "result = imported + Pos(0, 0, 11) * Box(10, 10, 10)\n"
    )
    r = _render(service, code, [{"name": "part.step", "content_base64": _b64(exported["step"])}])
    assert r.status_code == 200, r.text
    m = answer(r)["metrics"]
    assert m["bbox_size_mm"] == pytest.approx([60, 30, 22], abs=0.01)
    assert m["solids"] == 1


def test_stl_input_becomes_a_solid(service, exported):
    code = 'from build123d import *\nimported = Mesher().read("part.stl")[0]\nresult = imported\n'
    r = _render(service, code, [{"name": "part.stl", "content_base64": _b64(exported["stl"])}])
    assert r.status_code == 200, r.text
    m = answer(r)["metrics"]
    assert m["bbox_size_mm"] == pytest.approx([60, 30, 12], abs=0.05)
    assert m["volume_mm3"] == pytest.approx(60 * 30 * 12 - 3.14159 * 25 * 12, rel=0.02)


def test_corrupt_step_gives_a_specific_error(service):
    bad = b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('x'),'2;1');\nthis is not step\n"
    code = 'from build123d import *\nresult = import_step("part.step")\n'
    r = _render(service, code, [{"name": "part.step", "content_base64": _b64(bad)}])
    assert r.status_code == 422
    err = answer(r)["error"]
    assert err["kind"] == "import"
    assert "part.step" in err["message"] and "STEP" in err["message"]
    assert err["line"] == 2


def test_missing_input_names_what_is_attached(service, exported):
    code = 'from build123d import *\nresult = import_step("other.step")\n'
    r = _render(service, code, [{"name": "part.step", "content_base64": _b64(exported["step"])}])
    assert r.status_code == 422
    err = answer(r)["error"]
    assert err["kind"] == "import" and "other.step" in err["message"] and "part.step" in err["message"]


@pytest.mark.parametrize("name", ["../part.step", "/etc/passwd", "a/b.step", ".hidden", "..", "model.step",
                                  "result.json", "", "x" * 200, 5])
def test_bad_input_names_are_400(service, exported, name):
    r = _render(service, CUBE, [{"name": name, "content_base64": _b64(exported["step"])}])
    assert r.status_code == 400, r.text
    assert answer(r)["error"]["kind"] == "bad_request"


def test_input_limits_are_400(service):
    with service.client() as c:
        many = [{"name": f"f{i}.step", "content_base64": _b64(b"x")} for i in range(5)]
        assert c.post("/render", json={"code": CUBE, "inputs": many}).status_code == 400
        dup = [{"name": "a.step", "content_base64": _b64(b"x")}] * 2
        assert c.post("/render", json={"code": CUBE, "inputs": dup}).status_code == 400
        bad64 = [{"name": "a.step", "content_base64": "not base64!!"}]
        assert c.post("/render", json={"code": CUBE, "inputs": bad64}).status_code == 400
        assert c.post("/render", json={"code": CUBE, "inputs": {"a": 1}}).status_code == 400
        huge = [{"name": "a.step", "content_base64": _b64(b"\0" * (33 * 1024 * 1024))}]
        r = c.post("/render", json={"code": CUBE, "inputs": huge})
        assert r.status_code == 400 and "32 MB" in answer(r)["error"]["message"]


def test_reading_other_files_is_still_forbidden(service, exported):
    inputs = [{"name": "part.step", "content_base64": _b64(exported["step"])}]
    for code in ('from build123d import *\nresult = import_step("/etc/passwd")\n',
                 'from build123d import *\nresult = import_step("../part.step")\n',
                 'from build123d import *\nname = "part.step"\nresult = import_step(name)\n',
                 'from build123d import *\nresult = Mesher().read("/etc/hostname")[0]\n',
                 'from build123d import *\nresult = Box(1, 1, 1)\nopen("part.step").read()\n'):
        r = _render(service, code, inputs)
        assert r.status_code == 422, code
        assert answer(r)["error"]["kind"] == "forbidden", (code, answer(r))


def test_sandbox_holds_without_precheck_for_inputs(service_nocheck, exported):
    """With the courtesy check off, an absolute path still finds nothing outside the job folder."""
    code = 'from build123d import *\nresult = import_step("/etc/hostname")\n'
    r = _render(service_nocheck, code, [{"name": "part.step", "content_base64": _b64(exported["step"])}])
    assert r.status_code == 422
    assert answer(r)["error"]["kind"] == "import"


def test_inputs_do_not_leak_into_the_next_job(service, exported):
    r = _render(service, 'from build123d import *\nresult = import_step("part.step")\n',
                [{"name": "part.step", "content_base64": _b64(exported["step"])}])
    assert r.status_code == 200
    r = _render(service, 'from build123d import *\nresult = import_step("part.step")\n')
    assert r.status_code == 422 and answer(r)["error"]["kind"] == "import"
    assert "attached: none" in answer(r)["error"]["message"]

"""HTTP contract: validation (400), overload (503), per-user cap (429), formats and file contents."""

from __future__ import annotations

import base64
import threading
import time

import pygltflib
import pytest
from render_helpers import CORPUS, answer

from render_service.protocol import RESULT_MEDIA_TYPE

CUBE = (CORPUS / "parts" / "01_cube.py").read_text(encoding="utf-8")
MULTI = (CORPUS / "parts" / "21_multi_body_assembly.py").read_text(encoding="utf-8")
SLOW = "from build123d import *\nwhile True:\n    pass\n"


def files_by_format(doc):
    return {f["format"]: f["data"] for f in doc["files"]}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"code": 5}',
        b'{"code": ""}',
        b'{"code": "result = 1", "formats": ["obj"]}',
        b'{"code": "result = 1", "formats": "stl"}',
        b'{"code": "result = 1", "timeout_s": "soon"}',
        b'{"code": "result = 1", "timeout_s": -1}',
    ],
)
def test_malformed_requests_are_400(service, body):
    with service.client() as c:
        r = c.post("/render", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert answer(r)["ok"] is False and answer(r)["error"]["kind"] == "bad_request"


def test_health_shape(service):
    with service.client() as c:
        doc = c.get("/health").json()
    for key in ("status", "workers_ready", "busy", "queued", "jobs_done"):
        assert key in doc
    assert doc["status"] == "ok"


def test_formats_subset_and_no_program_echo(service):
    """Only the asked-for files come back, as raw bytes (no base64); `py` is retired: the caller has the program."""
    with service.client() as c:
        r = c.post("/render", json={"code": CUBE, "formats": ["step", "py"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == RESULT_MEDIA_TYPE
    doc = answer(r)
    assert [f["format"] for f in doc["files"]] == ["step"]
    files = files_by_format(doc)
    assert files["step"].startswith(b"ISO-10303-21")
    assert CUBE.encode() not in r.content and base64.b64encode(files["step"][:300]) not in r.content
    assert r.content.count(files["step"]) == 1
    assert doc["files"][0]["filename"] == "model.step"
    m = doc["metrics"]  # the post step's, from the geometry
    assert m["bbox_min_mm"] == pytest.approx([-10, -10, -10]) and m["bbox_max_mm"] == pytest.approx([10, 10, 10])
    assert m["solids"] == 1 and m["valid"] is True


def test_png_thumbnail_and_no_svg(service):
    """The thumbnail is a PNG drawn by the post step; `svg` is retired (accepted, nothing made)."""
    with service.client() as c:
        r = c.post("/render", json={"code": CUBE, "formats": ["png", "svg"]})
    assert r.status_code == 200, r.text
    files = files_by_format(answer(r))
    assert list(files) == ["png"] and files["png"].startswith(b"\x89PNG\r\n\x1a\n")


def test_glb_one_node_per_solid(service):
    with service.client() as c:
        r = c.post("/render", json={"code": MULTI, "formats": ["glb", "stl", "3mf"]})
    assert r.status_code == 200, r.text
    files = files_by_format(answer(r))
    glb = files["glb"]
    assert glb[:4] == b"glTF"
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    mesh_nodes = [n for n in gltf.nodes if n.mesh is not None]
    assert len(mesh_nodes) == 2
    # The viewer colours and lists parts by their `solid_N` node (assets/chat3d_viewer.jsx, partKey): each solid
    # is its own node with its own mesh, named solid_1, solid_2, and reachable from the scene's root.
    assert sorted(n.name for n in mesh_nodes) == ["solid_1", "solid_2"]
    assert len({n.mesh for n in mesh_nodes}) == 2
    assert _scene_node_names(gltf) >= {"solid_1", "solid_2"}
    assert files["3mf"][:2] == b"PK"
    assert len(files["stl"]) > 84


def test_glb_single_solid_is_solid_1(service):
    with service.client() as c:
        r = c.post("/render", json={"code": CUBE, "formats": ["glb"]})
    assert r.status_code == 200, r.text
    gltf = pygltflib.GLTF2.load_from_bytes(files_by_format(answer(r))["glb"])
    assert [n.name for n in gltf.nodes if n.mesh is not None] == ["solid_1"]
    assert "solid_1" in _scene_node_names(gltf)


def _scene_node_names(gltf) -> set[str]:
    """Names of every node under the default scene's roots (what three's GLTFLoader turns into objects)."""
    seen: set[str] = set()
    stack = list(gltf.scenes[gltf.scene or 0].nodes)
    while stack:
        node = gltf.nodes[stack.pop()]
        seen.add(node.name)
        stack.extend(node.children or [])
    return seen


def test_stdout_captured(service):
    code = CUBE + "\nprint('hello from the model')\n"
    with service.client() as c:
        r = c.post("/render", json={"code": code, "formats": ["stl"]})
    assert r.status_code == 200 and "hello from the model" in answer(r)["log"]


def test_sleeping_program_killed_at_deadline(service_nocheck):
    t0 = time.monotonic()
    with service_nocheck.client() as c:
        r = c.post("/render", json={"code": "import time\ntime.sleep(60)\n", "timeout_s": 1.5})
    assert r.status_code == 422 and answer(r)["error"]["kind"] == "timeout"
    assert time.monotonic() - t0 < 10


def test_crash_by_signal_is_crashed(service_nocheck):
    with service_nocheck.client() as c:
        r = c.post("/render", json={"code": "import os\nos.abort()\n"})
        assert r.status_code == 422 and answer(r)["error"]["kind"] == "crashed"
        r = c.post("/render", json={"code": CUBE, "formats": ["stl"]})
        assert r.status_code == 200


def _post_async(svc, user, results, key, timeout_s=3):
    def go():
        with svc.client() as c:
            results[key] = c.post("/render", json={"code": SLOW, "timeout_s": timeout_s},
                                  headers={"X-Chat3D-User": user})
    t = threading.Thread(target=go)
    t.start()
    return t


def _wait_for(svc, busy, queued=0):
    deadline = time.monotonic() + 10
    with svc.client() as c:
        while time.monotonic() < deadline:
            h = c.get("/health").json()
            if h["busy"] >= busy and h["queued"] >= queued:
                return
            time.sleep(0.05)
    raise AssertionError("service never became busy")


def test_per_user_cap_429(service_small):
    results = {}
    t = _post_async(service_small, "alice", results, "a")
    _wait_for(service_small, busy=1)
    with service_small.client() as c:
        r = c.post("/render", json={"code": CUBE}, headers={"X-Chat3D-User": "alice"})
    assert r.status_code == 429 and "retry-after" in r.headers
    t.join()
    assert answer(results["a"])["error"]["kind"] == "timeout"


def test_overload_503(service_small):
    results = {}
    t1 = _post_async(service_small, "bob", results, "b")
    _wait_for(service_small, busy=1)
    t2 = _post_async(service_small, "carol", results, "c")
    _wait_for(service_small, busy=1, queued=1)
    with service_small.client() as c:
        r = c.post("/render", json={"code": CUBE}, headers={"X-Chat3D-User": "dave"})
    assert r.status_code == 503 and "retry-after" in r.headers
    t1.join()
    t2.join()
    assert results["b"].status_code == 422 and results["c"].status_code == 422
    with service_small.client() as c:
        assert c.post("/render", json={"code": CUBE, "formats": ["stl"]}).status_code == 200


def test_a_small_part_does_not_wait_behind_a_long_one(service_burst, service_small):
    """With a burst slot, a cube sent while a runaway program holds the only pool slot comes back long
    before that program's deadline; without one (service_small) it waits for the deadline."""
    for svc, user, waits in ((service_burst, "erin", False), (service_small, "frank", True)):
        results = {}
        t = _post_async(svc, user, results, "slow", timeout_s=4)
        _wait_for(svc, busy=1)
        start = time.monotonic()
        with svc.client() as c:
            r = c.post("/render", json={"code": CUBE, "formats": ["stl"]}, headers={"X-Chat3D-User": user + "2"})
        took = time.monotonic() - start
        slow_still_running = t.is_alive()
        t.join()
        assert r.status_code == 200, r.text
        assert answer(results["slow"])["error"]["kind"] == "timeout"
        if waits:
            assert not slow_still_running and took > 2, took
        else:
            assert slow_still_running and took < 3, took


def test_finished_jobs_leave_no_folder_behind(service):
    """The job folder is deleted after the response is sent (off the user's wait), for good and failed
    jobs alike: once the service is idle, only the spare workers' own folders remain."""
    broken = "from build123d import *\nresult = Box(1, 1, 1) +\n"
    with service.client() as c:
        for code in (CUBE, broken, MULTI, "from build123d import *\nraise ValueError('no')\n", CUBE):
            r = c.post("/render", json={"code": code, "formats": ["stl", "step"]})
            assert r.status_code in (200, 422), r.text
        deadline = time.monotonic() + 10
        while True:
            health = c.get("/health").json()
            folders = sorted(p.name for p in service.jobs_dir.iterdir())
            if health["busy"] == 0 and len(folders) == health["workers_ready"]:
                break
            assert time.monotonic() < deadline, (health, folders)
            time.sleep(0.05)
    for name in folders:  # a spare's folder holds nothing yet
        assert list((service.jobs_dir / name).iterdir()) == [], name

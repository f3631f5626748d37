"""The wire protocol on its own (render_service/protocol.py): a success's framing round-trips, and a body whose
framing does not add up is refused rather than read past or short."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from render_service.protocol import (
    BadAnswer,
    BadRequest,
    RenderedFile,
    RenderFailure,
    RenderRequest,
    RenderSuccess,
    decode_failure,
    decode_result,
)
from render_service.settings import Settings

FILES = [RenderedFile("glb", "model.glb", b"glTF" + bytes(range(256)) * 3),
         RenderedFile("png", "model.png", b"\x89PNG\r\n\x1a\n"), RenderedFile("stl", "model.stl", b"")]


def test_success_round_trips_with_raw_bytes():
    body = RenderSuccess(files=FILES, metrics={"volume_mm3": 8000.0}, log="hi").encode()
    (n,) = struct.unpack(">I", body[:4])
    assert len(body) == 4 + n + sum(len(f.data) for f in FILES)  # no base64, no checksums: the bytes themselves
    back = decode_result(body)
    assert back.files == FILES and back.metrics == {"volume_mm3": 8000.0} and back.log == "hi"


@pytest.mark.parametrize("cut", [lambda b: b[:-1], lambda b: b + b"x", lambda b: b[:3],
                                 lambda b: struct.pack(">I", 1 << 30) + b[4:], lambda b: struct.pack(">I", 3) + b[4:]])
def test_a_body_that_does_not_add_up_is_refused(cut):
    body = RenderSuccess(files=FILES, metrics={}).encode()
    with pytest.raises(BadAnswer):
        decode_result(cut(body))


@pytest.mark.parametrize("entry", [{"format": "glb", "filename": "model.glb", "size": -1},
                                   {"format": "glb", "filename": "model.glb", "size": True},
                                   {"format": "exe", "filename": "model.exe", "size": 0},
                                   {"format": "glb", "filename": None, "size": 0}])
def test_a_head_listing_a_bad_file_is_refused(entry):
    head = json.dumps({"ok": True, "metrics": {}, "log": "", "files": [entry]}).encode()
    with pytest.raises(BadAnswer):
        decode_result(struct.pack(">I", len(head)) + head)


def test_failures_keep_only_known_kinds():
    f = decode_failure(json.loads(RenderFailure("geometry", "bad", line=3, log="l").to_json()))
    assert (f.kind, f.message, f.line, f.log) == ("geometry", "bad", 3, "l")
    assert decode_failure({"ok": False, "error": {"kind": "pwned", "message": "x", "line": True}}).kind == "runtime"
    assert decode_failure({"ok": False, "error": {"kind": "pwned", "line": True}}).line is None


def test_request_round_trips_and_py_is_not_made():
    s = Settings()
    req = RenderRequest(code="result = 1", formats=("glb", "py", "svg", "glb"), timeout_s=5.0,
                        inputs=(("part.step", b"\x00\x01"),))
    back = RenderRequest.parse(req.to_json(), s)
    assert back.code == req.code and back.formats == ("glb", "py", "svg") and back.made_formats == ["glb"]
    assert back.inputs == req.inputs and back.timeout_s == 5.0
    with pytest.raises(BadRequest, match="Unknown format"):
        RenderRequest.parse(b'{"code": "x", "formats": ["obj"]}', s)


def test_the_app_side_imports_no_heavy_module():
    """The client imports the protocol; that must not pull build123d, OCP or the sandbox into the app."""
    probe = ("import sys, chat3d.services.render_client; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('build123d', 'OCP', 'numpy') "
             "or m in ('render_service.sandbox', 'render_service.zygote', 'render_service.pool')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

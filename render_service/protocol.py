"""The render service's wire protocol: the one definition of a request and its answers, used by the service
(render_service/app.py, pool.py) and by the app's client (chat3d/services/render_client.py).

Light on purpose (standard library only, plus ``precheck.valid_input_name``, itself only ``ast``/``re``): the app
imports it without the service's heavy modules (build123d, OCCT, the sandbox).

Request (``POST /render``, JSON)::

    {"code": "...", "formats": ["glb", ...], "timeout_s": 30, "inputs": [{"name": "part.step", "content_base64": "..."}]}

Answers:

- **200**, ``Content-Type: application/vnd.chat3d.render``: a length-prefixed binary body, no base64 (it grew
  every output by a third and cost an encode and a decode on each side)::

      uint32 big-endian  n        length of the head
      n bytes            head     JSON {"ok": true, "metrics": {...}, "log": "...",
                                        "files": [{"format": "glb", "filename": "model.glb", "size": 1234}, ...]}
      then               outputs  each file's bytes, in the head's order, back to back

  The body is exactly ``4 + n + sum(size)`` bytes; anything else is refused by `decode_result`. No checksum
  travels: TCP/TLS already guard the bytes, and the app hashes a file once, when it stores it. The program is
  not sent back (``py`` is a retired format: the caller has its own copy).
- **422** (the program failed), **400** (malformed request), **401**, **429**/**503** (busy, with
  ``Retry-After``): JSON ``{"ok": false, "error": {"kind", "message", "line", "detail"}, "log": "..."}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .precheck import valid_input_name

if TYPE_CHECKING:
    from .settings import Settings

RESULT_MEDIA_TYPE = "application/vnd.chat3d.render"

# Every file the service makes, by format, under a fixed name (the post step writes them; the server reads back
# only these names). topology: faces.json (with glb); views: the standard views a vision model reviews (issue 23);
# parts: parts.zip, each part's STL/STEP/3MF (issue 27), made only for a result of several solids.
FILENAMES = {
    "stl": "model.stl",
    "step": "model.step",
    "3mf": "model.3mf",
    "glb": "model.glb",
    "png": "model.png",
    "topology": "faces.json",
    "views": "views.png",
    "parts": "parts.zip",
}
OPTIONAL_FORMATS = frozenset({"parts"})  # absent from a success when not made (a single solid has no parts.zip)
# Accepted in a request and skipped: svg (the job-made drawing, retired), py (the program itself: never echoed).
RETIRED_FORMATS = frozenset({"svg", "py"})
DEFAULT_FORMATS = ("stl", "step", "3mf", "glb")
# Why a program failed (422), a fixed set: anything else a job claims becomes "runtime" or "geometry".
FAILURE_KINDS = frozenset(
    {
        "syntax",
        "name",
        "forbidden",
        "no_result",
        "not_a_shape",
        "empty",
        "geometry",
        "timeout",
        "memory",
        "output_too_large",
        "crashed",
        "runtime",
        "import",
    }
)
_HEAD = struct.Struct(">I")
MAX_HEAD_BYTES = 16 * 1024 * 1024  # metrics + log + the file list; the service caps the log at 64 KB by default


class BadRequest(ValueError):
    """A malformed request (400); the message says which rule it broke."""


class BadAnswer(ValueError):
    """An answer that does not follow this protocol."""


@dataclass(frozen=True)
class RenderRequest:
    code: str
    formats: tuple[str, ...] = DEFAULT_FORMATS
    timeout_s: float | None = None  # None: the service's cap (`parse` always sets it)
    inputs: tuple[tuple[str, bytes], ...] = ()  # (bare name, bytes): files the program reads, e.g. an import

    def to_json(self) -> bytes:
        body: dict[str, Any] = {"code": self.code, "formats": list(self.formats)}
        if self.timeout_s is not None:
            body["timeout_s"] = self.timeout_s
        if self.inputs:
            body["inputs"] = [{"name": n, "content_base64": base64.b64encode(d).decode()} for n, d in self.inputs]
        return json.dumps(body).encode()

    @property
    def made_formats(self) -> list[str]:
        """What the service makes and returns: the requested formats without the retired ones."""
        return [f for f in self.formats if f not in RETIRED_FORMATS]

    @classmethod
    def parse(cls, body: bytes, s: Settings) -> RenderRequest:
        """Check a request body against the rules and the service's limits; `BadRequest` otherwise.

        By hand, not pydantic: every malformed input is a 400 in our error shape, with a message that names the
        field (422 is reserved for "your program failed")."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body must be JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        code = data.get("code")
        if not isinstance(code, str) or not code.strip():
            raise BadRequest("`code` (a non-empty string) is required.")
        if len(code.encode()) > s.max_code_kb * 1024:
            raise BadRequest(f"`code` is larger than {s.max_code_kb} KB.")
        if "\x00" in code:
            raise BadRequest("`code` must not contain NUL characters.")
        formats = data.get("formats")
        if formats is None:
            formats = list(DEFAULT_FORMATS)
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise BadRequest("`formats` must be a list of strings.")
        unknown = [f for f in formats if f not in FILENAMES and f not in RETIRED_FORMATS]
        if unknown:
            raise BadRequest(f"Unknown format(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(FILENAMES))}.")
        timeout_s = data.get("timeout_s")
        if timeout_s is None:
            timeout_s = s.timeout_cap_s
        elif (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, (int, float))
            or not math.isfinite(timeout_s)
            or timeout_s <= 0
        ):
            raise BadRequest("`timeout_s` must be a positive number.")
        return cls(
            code=code,
            formats=tuple(dict.fromkeys(formats)),
            timeout_s=float(min(timeout_s, s.timeout_cap_s)),
            inputs=tuple(_parse_inputs(data.get("inputs"), s)),
        )


def _parse_inputs(raw: Any, s: Settings) -> list[tuple[str, bytes]]:
    """Input files (e.g. an imported STEP/STL): `[{"name": "part.step", "content_base64": "..."}]`.

    They are plain data written into the job folder by the sandboxed worker before the program runs;
    the program reads them by their bare name. Names are checked here and again in the worker.
    """
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise BadRequest("`inputs` must be a list of {name, content_base64} objects.")
    if len(raw) > s.max_input_files:
        raise BadRequest(f"At most {s.max_input_files} input files per job.")
    cap = s.max_input_mb * 1024 * 1024
    out: list[tuple[str, bytes]] = []
    total = 0
    for f in raw:
        name, content = f.get("name"), f.get("content_base64")
        if not valid_input_name(name):
            raise BadRequest(
                "Input file names must be bare file names (letters, digits, '.', '_', '-'; "
                "no folders, no '..', not model.* or result.json)."
            )
        if any(n == name for n, _ in out):
            raise BadRequest(f"Two input files are named {name!r}.")
        if not isinstance(content, str):
            raise BadRequest(f"Input file {name!r} needs `content_base64` (a string).")
        if len(content) > cap * 4 // 3 + 8:
            raise BadRequest(f"Input files may total at most {s.max_input_mb} MB.")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"Input file {name!r}: `content_base64` is not valid base64.") from None
        total += len(data)
        if total > cap:
            raise BadRequest(f"Input files may total at most {s.max_input_mb} MB.")
        out.append((name, data))
    return out


@dataclass(frozen=True)
class RenderedFile:
    format: str
    filename: str
    data: bytes


@dataclass
class RenderSuccess:
    files: list[RenderedFile]
    metrics: dict[str, Any]
    log: str = ""

    def encode(self) -> bytes:
        """The 200 body: the head's length, the head, then each file's bytes."""
        head = json.dumps(
            {
                "ok": True,
                "metrics": self.metrics,
                "log": self.log,
                "files": [{"format": f.format, "filename": f.filename, "size": len(f.data)} for f in self.files],
            }
        ).encode()
        return b"".join([_HEAD.pack(len(head)), head, *(f.data for f in self.files)])


@dataclass
class RenderFailure:
    """The program failed (422): what to tell the person (and the repair loop)."""

    kind: str
    message: str
    line: int | None = None
    detail: str = ""
    log: str = ""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "ok": False,
                "error": {"kind": self.kind, "message": self.message, "line": self.line, "detail": self.detail},
                "log": self.log,
            }
        ).encode()


def error_json(kind: str, message: str) -> bytes:
    """A refusal that is not the program's fault (400, 401, 429, 503)."""
    return json.dumps({"ok": False, "error": {"kind": kind, "message": message}}).encode()


def decode_result(body: bytes) -> RenderSuccess:
    """A 200 body back into a `RenderSuccess`; `BadAnswer` when its framing or head is wrong."""
    if len(body) < _HEAD.size:
        raise BadAnswer("The answer is shorter than its head length.")
    (n,) = _HEAD.unpack_from(body)
    if n > MAX_HEAD_BYTES or _HEAD.size + n > len(body):
        raise BadAnswer("The answer's head length is out of range.")
    try:
        head = json.loads(body[_HEAD.size : _HEAD.size + n])
    except (ValueError, UnicodeDecodeError):
        raise BadAnswer("The answer's head is not JSON.") from None
    listed = head.get("files") if isinstance(head, dict) else None
    if not isinstance(listed, list) or head.get("ok") is not True:
        raise BadAnswer("The answer's head has no file list.")
    view = memoryview(body)
    at = _HEAD.size + n
    files = []
    for f in listed:
        size = f.get("size") if isinstance(f, dict) else None
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or at + size > len(body)
            or f.get("format") not in FILENAMES
            or not isinstance(f.get("filename"), str)
        ):
            raise BadAnswer("The answer lists a file it does not hold.")
        files.append(RenderedFile(format=f["format"], filename=f["filename"], data=bytes(view[at : at + size])))
        at += size
    if at != len(body):
        raise BadAnswer("The answer holds bytes its head does not list.")
    metrics = head.get("metrics")
    log = head.get("log")
    return RenderSuccess(
        files=files, metrics=metrics if isinstance(metrics, dict) else {}, log=log if isinstance(log, str) else ""
    )


def decode_failure(payload: Any) -> RenderFailure:
    """A 422 JSON document back into a `RenderFailure` (unknown kinds read as "runtime")."""
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {}
    line, kind = err.get("line"), err.get("kind")
    log = payload.get("log") if isinstance(payload, dict) else ""
    return RenderFailure(
        kind=kind if isinstance(kind, str) and kind in FAILURE_KINDS else "runtime",
        message=str(err.get("message") or "The program failed."),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
        detail=str(err.get("detail") or ""),
        log=log if isinstance(log, str) else "",
    )

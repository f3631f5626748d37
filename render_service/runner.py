"""What a worker does once the sandbox is up: run the program, classify failures, save the geometry.

Runs inside the job folder (cwd) and writes only ``model.brep`` (the result shape, OCCT binary BRep)
and ``result.json`` (ok flag, error kind/message, log). Both are untrusted: this process ran the
user's program, which may have replaced any function here. Every file the app keeps, and every
metric, is made by the trusted post-render step (``postrender.finish``) in another process from the
BRep alone. ``build_and_export`` (build here, then finish in-process) is what the benchmark's "bare"
and "baseline" modes run, so the comparison measures the sandbox and transport overhead only.
"""

from __future__ import annotations

import builtins
import errno
import gc
import io
import json
import linecache
import math
import os
import sys
import time
import traceback
from pathlib import Path

from OCP.Standard import Standard_Failure
from OCP.StlAPI import StlAPI_Writer

from . import parts, postrender, precheck
from .lazy_sklearn import deferred_sklearn

with deferred_sklearn():
    import build123d as bd

EXPORT_FORMATS = postrender.MODEL_FORMATS + ("png", "views", "parts")  # what build_and_export can make (via postrender)
DETAIL_CAP = 8000
MODEL_FILENAME = "<model>"

_LIB_MARKERS = tuple(
    sorted({p for p in (sys.prefix, sys.base_prefix, os.path.dirname(bd.__file__)) if p}, key=len, reverse=True)
)


class JobError(Exception):
    def __init__(self, kind: str, message: str, line: int | None = None, detail: str = ""):
        super().__init__(message)
        self.kind, self.message, self.line, self.detail = kind, message, line, detail


def scrub(text: str) -> str:
    """Remove the service's paths (library locations, job folder) from text shown to users."""
    for marker in _LIB_MARKERS:
        text = text.replace(marker, "<lib>")
    text = text.replace(os.path.dirname(os.path.abspath(__file__)), "<service>")
    text = text.replace("/job/", "").replace(os.getcwd() + "/", "")
    if len(text) > DETAIL_CAP:
        text = "…" + text[-DETAIL_CAP:]
    return text


class CappedWriter(io.TextIOBase):
    """stdout replacement: keeps the first ``cap`` characters, counts the rest."""

    def __init__(self, cap: int):
        self.cap, self.size, self.dropped = cap, 0, 0
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        s = str(s)
        room = self.cap - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def getvalue(self) -> str:
        out = "".join(self.parts)
        return out + (f"\n… [{self.dropped} characters dropped]" if self.dropped else "")


def _model_line(tb) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == MODEL_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _innermost_file(tb) -> str:
    last = ""
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last


def _format_detail(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # Drop the runner's own frames: start at the first frame of the user's program.
    for i, chunk in enumerate(lines):
        if f'File "{MODEL_FILENAME}"' in chunk:
            lines = [lines[0]] + lines[i:]
            break
    return scrub("".join(lines))


def classify(exc: BaseException) -> JobError:
    """Map an exception from the user's program to a kind."""
    tb = exc.__traceback__
    line = _model_line(tb)
    detail = _format_detail(exc)
    name = type(exc).__name__
    if isinstance(exc, ImportFailed):
        return JobError("import", f"{exc}{_at(line)}", line, detail)
    if isinstance(exc, MemoryError):
        return JobError("memory", "The program ran out of memory (limit reached).", line, detail)
    if isinstance(exc, NameError):
        return JobError("name", f"{exc} (line {line})" if line else str(exc), line, detail)
    if isinstance(exc, ImportError):
        mod = getattr(exc, "name", None) or ""
        if mod and not precheck.module_allowed(mod):
            return JobError("forbidden", f"Importing '{mod}' is not allowed.", line, detail)
        return JobError("runtime", f"{name}: {exc}", line, detail)
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return JobError("output_too_large", "Output exceeded the file size limit.", line, detail)
    if isinstance(exc, Standard_Failure) or "OCP" in type(exc).__module__:
        return JobError("geometry", f"Geometry kernel error{_at(line)}: {name}: {exc}", line, detail)
    inner = _innermost_file(tb)
    if isinstance(exc, (ValueError, RuntimeError, TypeError, IndexError, ZeroDivisionError)) and (
        "build123d" in inner or "OCP" in inner
    ):
        if not isinstance(exc, TypeError):
            return JobError("geometry", f"Geometry operation failed{_at(line)}: {exc}", line, detail)
    return JobError("runtime", f"{name}{_at(line)}: {exc}", line, detail)


def _at(line: int | None) -> str:
    return f" on line {line}" if line else ""


def run_program(code: str, check: bool) -> tuple[object, str, list[str] | None]:
    """Compile and exec the program; return (namespace result, captured stdout, its per-solid labels)."""
    if check:
        finding = precheck.check(code)
        if finding is not None:
            raise JobError("forbidden", finding.message + _at(finding.line), finding.line)
    try:
        compiled = compile(code, MODEL_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno
        detail = scrub("".join(traceback.format_exception_only(type(exc), exc)))
        raise JobError("syntax", f"Syntax error on line {line}: {exc.msg}", line, detail) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise JobError("syntax", f"The program could not be compiled: {exc}") from None
    linecache.cache[MODEL_FILENAME] = (len(code), None, code.splitlines(True), MODEL_FILENAME)

    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    out = CappedWriter(64 * 1024)
    saved = sys.stdout
    sys.stdout = out
    pid = os.getpid()
    try:
        exec(compiled, namespace)  # noqa: S102 - this is the job; the sandbox is the wall
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _only_main(pid)
            raise JobError("runtime", f"The program called exit({exc.code!r}).") from None
    except JobError:
        raise
    except BaseException as exc:  # noqa: BLE001
        _only_main(pid)
        raise classify(exc) from None
    finally:
        sys.stdout = saved
    _only_main(pid)
    shape = extract_result(namespace)
    return shape, out.getvalue(), parts.program_labels(namespace.get("result"), shape)


def _only_main(pid: int) -> None:
    """Processes the program forked must not write results: they just vanish."""
    if os.getpid() != pid:
        os._exit(0)


def extract_result(namespace: dict):
    missing = object()
    result = namespace.get("result", missing)
    if result is missing:
        parts = {id(v): v for v in namespace.values() if isinstance(v, bd.BuildPart)}
        if len(parts) == 1:
            result = next(iter(parts.values())).part
        else:
            raise JobError(
                "no_result",
                "The program left no shape in `result`. Assign the final part to a top-level variable named `result`.",
            )
    if isinstance(result, bd.BuildPart):
        result = result.part
    elif isinstance(result, (bd.BuildSketch, bd.BuildLine)):
        raise JobError("not_a_shape", f"`result` is a {type(result).__name__} (2D), not a 3D part.")
    if isinstance(result, (list, tuple)) and result and all(isinstance(s, bd.Shape) for s in result):
        result = bd.Compound(list(result))
    if not isinstance(result, bd.Shape):
        raise JobError("not_a_shape", f"`result` is a {type(result).__name__}, not a 3D shape.")
    if result.wrapped is None or not result.solids():
        if result.wrapped is not None and (result.faces() or result.edges()):
            raise JobError("not_a_shape", "`result` has no solids: it is a 2D or wire shape, not a 3D part.")
        raise JobError("empty", "The resulting shape is empty: it has no solids and zero volume.")
    if not result.volume > 1e-9:
        raise JobError("empty", "The resulting shape is empty: its volume is zero.")
    return result


def write_inputs(inputs: list[tuple[str, bytes]], out_dir: str) -> None:
    """Write the job's input files (imported STEP/STL: plain data) into the job folder, inside the sandbox.

    Names were checked by the server; they are checked again here, and files are created exclusively
    without following links, so an input can never land outside the folder or replace another file.
    """
    for name, data in inputs:
        if not precheck.valid_input_name(name):
            raise JobError("import", f"Input file name {name!r} is not a bare file name.")
        fd = os.open(
            os.path.join(out_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o400
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            if exc.errno == errno.EFBIG:
                raise JobError("import", f"The input file {name!r} is larger than the job's file size limit.") from None
            raise
        finally:
            os.close(fd)


class ImportFailed(Exception):
    """An input file could not be read as the format asked for (damaged, wrong type, missing)."""


def _checked_readers(input_names: list[str]) -> None:
    """Make build123d's import_step/import_stl fail with a clear message instead of an empty shape.

    import_step returns an empty compound for a damaged file (the result would then be reported as
    "empty"), and both raise a bare FileNotFoundError for a name that is not attached. This runs in the
    single-use worker only.
    """
    import build123d.importers as importers

    available = ", ".join(input_names) if input_names else "none"

    def _missing(name) -> ImportFailed:
        return ImportFailed(f"There is no input file named {str(name)!r} in this job (attached: {available}).")

    orig_step = getattr(importers.import_step, "_chat3d_orig", importers.import_step)
    orig_stl = getattr(importers.import_stl, "_chat3d_orig", importers.import_stl)
    orig_read = getattr(bd.Mesher.read, "_chat3d_orig", bd.Mesher.read)

    def import_step(filename):
        if not os.path.isfile(os.fsdecode(filename)):
            raise _missing(filename)
        try:
            shape = orig_step(filename)
        except Exception as exc:  # noqa: BLE001
            raise ImportFailed(f"The file {os.fsdecode(filename)!r} could not be read as STEP: {exc}") from None
        try:
            holds_shapes = bool(shape.solids() or shape.faces())
        except Exception:  # noqa: BLE001 - an empty compound has no wrapped shape at all
            holds_shapes = False
        if not holds_shapes:
            raise ImportFailed(
                f"The file {os.fsdecode(filename)!r} could not be read as STEP: it holds no shapes "
                "(the file is damaged, truncated or not a STEP model)."
            )
        return shape

    def import_stl(file_name, *args, **kwargs):
        if not os.path.isfile(os.fsdecode(file_name)):
            raise _missing(file_name)
        try:
            return orig_stl(file_name, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise ImportFailed(f"The file {os.fsdecode(file_name)!r} could not be read as STL: {exc}") from None

    def read(self, file_name, *args, **kwargs):
        if not os.path.isfile(os.fsdecode(file_name)):
            raise _missing(file_name)
        try:
            shapes = orig_read(self, file_name, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise ImportFailed(f"The file {os.fsdecode(file_name)!r} could not be read as a mesh: {exc}") from None
        if not shapes:
            raise ImportFailed(f"The file {os.fsdecode(file_name)!r} holds no mesh (damaged or empty).")
        return shapes

    for new, orig in ((import_step, orig_step), (import_stl, orig_stl), (read, orig_read)):
        new.__doc__ = orig.__doc__
        setattr(new, "_chat3d_orig", orig)  # noqa: B010  (a tag mypy cannot see on a function) read back with getattr above, so patching twice wraps once
    importers.import_step = bd.import_step = import_step
    importers.import_stl = bd.import_stl = import_stl
    bd.Mesher.read = read  # type: ignore[method-assign]  # build123d's own reader, wrapped on purpose


def build_job(code: str, out_dir: str, check: bool = True, input_names: list[str] | None = None) -> dict:
    """Run the program and save its result shape as ``model.brep`` in out_dir; returns the result document.

    Untrusted by design (the program ran in this process): the document carries only ok, error, log and the
    solids' labels; the service takes the error from it, and the post step the labels as plain names
    (render_service/parts.py). The BRep is written without triangulation or names.
    """
    t0 = time.perf_counter()
    log = ""
    try:
        _checked_readers(input_names or [])
        shape, log, labels = run_program(code, check)
        try:
            postrender.write_brep(shape, os.path.join(out_dir, postrender.BREP_NAME))
        except OSError as exc:
            if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
                raise JobError("output_too_large", "The model is larger than the job's disk limit.") from None
            raise JobError("geometry", f"Saving the model failed: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001
            raise JobError("geometry", f"Saving the model failed: {type(exc).__name__}: {exc}") from None
        # The program's part labels (issue 27) ride along as data: the post step keeps them only as parts.py allows.
        return {"ok": True, "log": log, "build_s": round(time.perf_counter() - t0, 4), "labels": labels}
    except JobError as err:
        return {
            "ok": False,
            "error": {"kind": err.kind, "message": err.message, "line": err.line, "detail": err.detail},
            "log": log,
        }


def build_and_export(
    code: str, formats: list[str], out_dir: str, check: bool = True, input_names: list[str] | None = None
) -> dict:
    """The whole job in one process, no sandbox: build_job, then postrender.finish on its BRep.

    For the benchmark's bare/baseline modes and tests only: the service runs the two halves in
    separate processes. Returns {"ok", "files": {fmt: name}, "metrics", "log"} or {"ok": False, "error"}.
    """
    doc = build_job(code, out_dir, check, input_names)
    if not doc["ok"]:
        return doc
    t1 = time.perf_counter()
    post = postrender.finish(
        Path(out_dir),
        Path(out_dir),
        max_output_bytes=1 << 30,
        formats={f for f in formats if f in EXPORT_FORMATS},
        labels=doc.get("labels"),
    )
    if not post["ok"]:
        return {
            "ok": False,
            "error": {"kind": post["kind"], "message": post["message"], "line": None, "detail": ""},
            "log": doc["log"],
        }
    m = postrender.metrics_doc(post) | {"build_s": doc["build_s"], "export_s": round(time.perf_counter() - t1, 4)}
    return {"ok": True, "files": post["files"], "metrics": m, "log": doc["log"]}


def serve_one(job_fd: int, cpu_cap_s: float, on_job=None, notify_fd: int = -1) -> None:
    """Worker entry after the sandbox is up: read the job, run it, write result.json, exit."""
    chunks = []
    while True:
        chunk = os.read(job_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(job_fd)
    if on_job is not None:
        # The zygote sends a job only after our short-lived parent has exited, so the parent is
        # now the zygote (subreaper): dying with it is right, dying with the helper was not.
        on_job()
    raw = b"".join(chunks)
    header, _, body = raw.partition(b"\n")
    job = json.loads(header)
    code_len = int(job.get("code_len", len(body)))
    code = body[:code_len].decode("utf-8", errors="replace")
    inputs, offset = [], code_len
    for spec in job.get("inputs", []):
        size = int(spec["size"])
        inputs.append((spec["name"], body[offset : offset + size]))
        offset += size
    del raw, body
    import resource

    # RLIMIT_CPU counts the whole process: add what the spare's warm-up used, so the job's own budget
    # stays timeout + 1 s.
    used = sum(os.times()[:2])
    cpu = int(math.ceil(used + min(job["timeout_s"], cpu_cap_s))) + 1
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu, hard), min(cpu + 1, hard)))
    try:
        write_inputs(inputs, os.getcwd())
    except JobError as err:
        doc = {"ok": False, "error": {"kind": err.kind, "message": err.message, "line": None, "detail": ""}, "log": ""}
    else:
        doc = build_job(code, os.getcwd(), job.get("precheck", True), input_names=[n for n, _ in inputs])
    data = json.dumps(doc).encode()
    fd = os.open("result.json.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename("result.json.tmp", "result.json")
    if notify_fd >= 0:
        # Tell the zygote we are done so it need not wait for our ~40 ms address-space teardown.
        try:
            os.write(notify_fd, b"done\n")
        except OSError:
            pass


def warm_up() -> None:
    """Import lazily loaded modules in the zygote so forked workers never pay for them.

    No OCCT operation runs here: OCCT starts thread pools on first use, and the zygote must stay
    single-threaded so fork() is safe.
    """
    import resource  # noqa: F401

    import OCP.BinTools  # noqa: F401
    import OCP.HLRBRep  # noqa: F401
    import OCP.RWGltf  # noqa: F401
    import OCP.STEPCAFControl  # noqa: F401
    import OCP.StlAPI  # noqa: F401
    import OCP.XCAFDoc  # noqa: F401

    for mod in (
        "lib3mf",
        "PIL.Image",
        "PIL.PngImagePlugin",
        "ocpsvg",
        "svgpathtools",
        "ezdxf",
        "random",
        "itertools",
        "functools",
        "copy",
        "typing",
    ):
        try:
            __import__(mod)
        except ImportError:
            pass
    precheck.check("import math\nx = 1\n")
    compile("x = 1", MODEL_FILENAME, "exec")
    _warm_occt()
    gc.collect()
    # Forked workers share the zygote's heap copy-on-write; a GC pass in a worker would touch (and
    # so copy) every object. Freezing moves them out of the collector's reach: ~4x faster jobs.
    gc.freeze()


def _warm_occt() -> None:
    """Run each step of a job and of the post step once, single-threaded, so forked workers skip
    first-use initialisation (STEP schema, XCAF, lib3mf, BRep I/O: ~120 ms). Parallel OCCT paths are
    avoided on purpose: they would start a thread pool in the zygote, which a forked child would
    inherit broken. Only a trusted box is used; no job data ever reaches this process."""
    import tempfile

    import numpy as np
    from OCP.BRepMesh import BRepMesh_IncrementalMesh

    shape = bd.Box(10, 10, 10)
    with tempfile.TemporaryDirectory() as d:
        postrender.write_brep(shape, os.path.join(d, postrender.BREP_NAME))
        shape = postrender.parse_brep(postrender.read_brep(Path(d), 1 << 20))
        postrender.measure(shape)
        BRepMesh_IncrementalMesh(shape.wrapped, 0.05, False, postrender.ANGULAR_DEFLECTION, False)
        StlAPI_Writer().Write(shape.wrapped, os.path.join(d, "w.stl"))
        bd.export_step(shape, os.path.join(d, "w.step"))
        tris = postrender._solid_triangles(shape.solids()[0], os.path.join(d, ".s.stl"))  # meshed above
        postrender.export_3mf([tris], os.path.join(d, "w.3mf"))
        postrender.render_png(np.asarray(tris), os.path.join(d, "w.png"), px=16)
        postrender.render_views(np.asarray(tris), os.path.join(d, "w-views.png"), px=16)  # Pillow's font, drawing
    if len(os.listdir("/proc/self/task")) > 1:
        raise RuntimeError("zygote warm-up started threads; fork would be unsafe")


# The trusted part a spare worker renders once before its job (see warm_worker). Small on purpose:
# a cube already takes most of the first-use cost away (measured: a forked job's CPU time went from
# 1.33x to 1.07x that of a warm interpreter); richer parts cost 2-3x more per spare and did not do better.
WARM_PROGRAM = """\
from build123d import *
with BuildPart() as p:
    Box(10, 10, 10)
result = p.part
"""


def warm_worker(formats: tuple[str, ...] = ()) -> None:
    """In a spare worker, inside its finished sandbox, before it reports ready: render WARM_PROGRAM
    once into a scratch folder of the job folder, then delete it.

    A forked worker is otherwise slower than a warm interpreter by 15-25 ms per job: its first
    OCCT/build123d calls fault in copy-on-write pages of the zygote's heap, grow the allocator's
    arenas and start OCCT's mesher thread pool (which the zygote must not start). Doing that here
    moves the cost off the job's path. Only trusted code runs; the job folder is left as it was.
    """
    import shutil

    scratch = os.path.join(os.getcwd(), ".warm")
    try:
        os.mkdir(scratch, 0o700)
        build_job(WARM_PROGRAM, scratch, check=True)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the job runs either way
        pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        linecache.cache.pop(MODEL_FILENAME, None)
    gc.collect()

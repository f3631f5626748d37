"""FastAPI app: request validation, admission control (pool and burst slots, queue, per-user cap), logging.

Requests are parsed by hand (not pydantic models) so malformed input is always a 400 with our
error shape, never FastAPI's 422, which is reserved for "your program failed".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
import uuid
from collections import defaultdict
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from .pool import ZygoteClient, collect, remove_job_dir
from .precheck import valid_input_name
from .settings import Settings

log = logging.getLogger("render_service")

DEFAULT_FORMATS = ["stl", "step", "3mf", "glb"]
# topology: faces.json (with glb); views: views.png, the standard views for a vision model's review (issue 23);
# parts: parts.zip, each part's STL/STEP/3MF (issue 27; only for several solids)
ALLOWED_FORMATS = {"stl", "step", "3mf", "glb", "py", "png", "topology", "views", "parts"}
RETIRED_FORMATS = {"svg"}  # no longer made (the thumbnail is model.png); still accepted and skipped


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"kind": "bad_request", "message": message}}, status_code=400)


class Admission:
    """Who runs when: pool slots (one job per CPU), burst slots, a bounded queue, a per-user cap.

    A job holds a pool slot until it has run `long_job_s`; then it lets one queued job start beside it,
    up to `pool_size + burst_slots` jobs at once. Short parts therefore never wait behind a heavy one
    (the CPUs are shared instead), while a stream of short jobs still runs one per CPU. Both gates
    are FIFO semaphores, so jobs start in the order they came.
    """

    def __init__(self, s: Settings):
        self.s = s
        self.running = asyncio.Semaphore(s.pool_size + s.burst_slots)
        self.cpu = asyncio.Semaphore(s.pool_size)
        self.busy = 0
        self.queued = 0
        self.done = 0
        self.per_user: dict[str, int] = defaultdict(int)

    def full(self) -> bool:
        return self.busy + self.queued >= self.s.pool_size + self.s.burst_slots + self.s.queue_size

    @asynccontextmanager
    async def slot(self):
        """Wait for a turn (counted in `queued`), then run (counted in `busy`)."""
        self.queued += 1
        try:
            await self.running.acquire()
            try:
                await self.cpu.acquire()
            except BaseException:
                self.running.release()
                raise
        finally:
            self.queued -= 1
        holds_cpu = True

        def yield_cpu() -> None:
            nonlocal holds_cpu
            if holds_cpu:
                holds_cpu = False
                self.cpu.release()

        turned_long = asyncio.get_running_loop().call_later(self.s.long_job_s, yield_cpu) if self.s.burst_slots else None
        self.busy += 1
        try:
            yield
        finally:
            if turned_long:
                turned_long.cancel()
            yield_cpu()
            self.running.release()
            self.busy -= 1
            self.done += 1


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.zygote = ZygoteClient(s)
        app.state.adm = Admission(s)
        await app.state.zygote.start()
        try:
            yield
        finally:
            await app.state.zygote.close()

    app = FastAPI(title="Chat3D render service", lifespan=lifespan)

    def authorized(request: Request) -> bool | None:
        """True with the right bearer token, None when no token is configured (test settings only),
        False otherwise. Constant-time comparison."""
        if not s.service_token:
            return None
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), s.service_token.encode())

    @app.get("/health")
    async def health(request: Request):
        z: ZygoteClient = request.app.state.zygote
        a: Admission = request.app.state.adm
        # The zygote must answer a ping: a stopped or wedged zygote is not healthy.
        if not await z.ping(2.0):
            return JSONResponse({"status": "unavailable", "message": "the worker zygote does not answer",
                                 "sandbox": z.mode}, status_code=503)
        return {
            "status": "ok",
            "workers_ready": z.ready,
            "busy": a.busy,
            "queued": a.queued,
            "jobs_done": a.done,
            "sandbox": z.mode,
            "seccomp": z.seccomp,
        }

    @app.post("/render")
    async def render(request: Request):
        z: ZygoteClient = request.app.state.zygote
        a: Admission = request.app.state.adm
        t0 = time.perf_counter()
        auth = authorized(request)
        if auth is False or (auth is None and not s.allow_anonymous):
            message = ("A valid `Authorization: Bearer <RENDER_SERVICE_TOKEN>` header is required."
                       if auth is False else "The render service has no RENDER_SERVICE_TOKEN set; it refuses renders.")
            return JSONResponse({"ok": False, "error": {"kind": "unauthorized", "message": message}},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        parsed = _parse(await request.body(), s)
        if isinstance(parsed, JSONResponse):
            return parsed
        code, formats, timeout_s, inputs = parsed

        # Who the job is for counts only when the caller proved it is the app.
        user = request.headers.get("x-chat3d-user") if auth else None
        retry = {"Retry-After": str(s.retry_after_s)}
        if user is not None and a.per_user[user] >= s.per_user_jobs:
            return JSONResponse(
                {"ok": False, "error": {"kind": "too_many_requests",
                                        "message": f"At most {s.per_user_jobs} renders at once per user."}},
                status_code=429, headers=retry,
            )
        if a.full():
            return JSONResponse(
                {"ok": False, "error": {"kind": "overloaded", "message": "The render service is busy; retry shortly."}},
                status_code=503, headers=retry,
            )
        job_id = uuid.uuid4().hex[:12]
        if user is not None:
            a.per_user[user] += 1
        try:
            async with a.slot():
                t_start = time.perf_counter()
                mesh_formats = [f for f in formats if f not in ("py", *RETIRED_FORMATS)]
                status = await z.run(job_id, code, mesh_formats, timeout_s, s.precheck, inputs, backlog=a.queued)
                try:
                    doc = await asyncio.to_thread(collect, status, [f for f in formats if f not in RETIRED_FORMATS],
                                                  code, s)
                except BaseException:
                    remove_job_dir(status)
                    raise
        finally:
            if user is not None:
                a.per_user[user] -= 1
                if a.per_user[user] <= 0:
                    del a.per_user[user]
        t_end = time.perf_counter()
        err = doc.get("error") or {}
        log.info(
            "job=%s ok=%s kind=%s queue_s=%.3f run_s=%.3f total_s=%.3f build_s=%s post_s=%s "
            "code_bytes=%d code_sha=%s formats=%s inputs=%d input_bytes=%d user=%s",
            job_id, doc["ok"], err.get("kind", "-"), t_start - t0, t_end - t_start, t_end - t0,
            (doc.get("metrics") or {}).get("build_s"), (doc.get("metrics") or {}).get("post_s"),
            len(code), hashlib.sha256(code.encode()).hexdigest()[:12], ",".join(formats),
            len(inputs), sum(len(d) for _, d in inputs), user or "-",
        )
        log.debug("job=%s code=%r", job_id, code)
        # orjson: the body is mostly base64 text, which the standard encoder scans ~10x slower.
        # The job folder is removed after the response is sent (BackgroundTask).
        return Response(orjson.dumps(doc), status_code=200 if doc["ok"] else 422, media_type="application/json",
                        background=BackgroundTask(remove_job_dir, status))

    return app


def _parse(body: bytes, s: Settings):
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _bad("The request body must be JSON.")
    if not isinstance(data, dict):
        return _bad("The request body must be a JSON object.")
    code = data.get("code")
    if not isinstance(code, str) or not code.strip():
        return _bad("`code` (a non-empty string) is required.")
    if len(code.encode()) > s.max_code_kb * 1024:
        return _bad(f"`code` is larger than {s.max_code_kb} KB.")
    if "\x00" in code:
        return _bad("`code` must not contain NUL characters.")
    formats = data.get("formats", DEFAULT_FORMATS)
    if formats is None:
        formats = DEFAULT_FORMATS
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        return _bad("`formats` must be a list of strings.")
    unknown = [f for f in formats if f not in ALLOWED_FORMATS | RETIRED_FORMATS]
    if unknown:
        return _bad(f"Unknown format(s): {', '.join(map(str, unknown))}. Allowed: {', '.join(sorted(ALLOWED_FORMATS))}.")
    formats = list(dict.fromkeys(formats))
    timeout_s = data.get("timeout_s")
    if timeout_s is None:
        timeout_s = s.timeout_cap_s
    elif isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not math.isfinite(timeout_s) \
            or timeout_s <= 0:
        return _bad("`timeout_s` must be a positive number.")
    timeout_s = float(min(timeout_s, s.timeout_cap_s))
    inputs = _parse_inputs(data.get("inputs"), s)
    if isinstance(inputs, JSONResponse):
        return inputs
    return code, formats, timeout_s, inputs


def _parse_inputs(raw, s: Settings):
    """Input files (e.g. an imported STEP/STL): `[{"name": "part.step", "content_base64": "..."}]`.

    They are plain data written into the job folder by the sandboxed worker before the program runs;
    the program reads them by their bare name. Names are checked here and again in the worker.
    """
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        return _bad("`inputs` must be a list of {name, content_base64} objects.")
    if len(raw) > s.max_input_files:
        return _bad(f"At most {s.max_input_files} input files per job.")
    cap = s.max_input_mb * 1024 * 1024
    out: list[tuple[str, bytes]] = []
    total = 0
    for f in raw:
        name, content = f.get("name"), f.get("content_base64")
        if not valid_input_name(name):
            return _bad("Input file names must be bare file names (letters, digits, '.', '_', '-'; "
                        "no folders, no '..', not model.* or result.json).")
        if any(n == name for n, _ in out):
            return _bad(f"Two input files are named {name!r}.")
        if not isinstance(content, str):
            return _bad(f"Input file {name!r} needs `content_base64` (a string).")
        if len(content) > cap * 4 // 3 + 8:
            return _bad(f"Input files may total at most {s.max_input_mb} MB.")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            return _bad(f"Input file {name!r}: `content_base64` is not valid base64.")
        total += len(data)
        if total > cap:
            return _bad(f"Input files may total at most {s.max_input_mb} MB.")
        out.append((name, data))
    return out

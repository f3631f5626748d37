"""FastAPI app: admission control (pool and burst slots, queue, per-user cap), logging.

What a request and its answers look like is `protocol` (shared with the app's client); a malformed request is
always a 400 in our error shape, never FastAPI's 422, which is reserved for "your program failed".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import uuid
from collections import defaultdict
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from .pool import ZygoteClient, collect, remove_job_dir
from .protocol import RESULT_MEDIA_TYPE, BadRequest, RenderRequest, RenderSuccess, error_json
from .settings import Settings

log = logging.getLogger("render_service")


def _refuse(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_json(kind, message), status_code=status, media_type="application/json", headers=headers)


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

        turned_long = (
            asyncio.get_running_loop().call_later(self.s.long_job_s, yield_cpu) if self.s.burst_slots else None
        )
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
            return JSONResponse(
                {"status": "unavailable", "message": "the worker zygote does not answer", "sandbox": z.mode},
                status_code=503,
            )
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
            message = (
                "A valid `Authorization: Bearer <RENDER_SERVICE_TOKEN>` header is required."
                if auth is False
                else "The render service has no RENDER_SERVICE_TOKEN set; it refuses renders."
            )
            return _refuse(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})
        try:
            job = RenderRequest.parse(await request.body(), s)
        except BadRequest as exc:
            return _refuse(400, "bad_request", str(exc))

        # Who the job is for counts only when the caller proved it is the app.
        user = request.headers.get("x-chat3d-user") if auth else None
        retry = {"Retry-After": str(s.retry_after_s)}
        if user is not None and a.per_user[user] >= s.per_user_jobs:
            return _refuse(429, "too_many_requests", f"At most {s.per_user_jobs} renders at once per user.", retry)
        if a.full():
            return _refuse(503, "overloaded", "The render service is busy; retry shortly.", retry)
        job_id = uuid.uuid4().hex[:12]
        if user is not None:
            a.per_user[user] += 1
        try:
            async with a.slot():
                t_start = time.perf_counter()
                formats = job.made_formats
                status = await z.run(
                    job_id,
                    job.code,
                    formats,
                    job.timeout_s or s.timeout_cap_s,
                    s.precheck,
                    list(job.inputs),
                    backlog=a.queued,
                )
                try:
                    result = await asyncio.to_thread(collect, status, formats, s)
                except BaseException:
                    remove_job_dir(status)
                    raise
        finally:
            if user is not None:
                a.per_user[user] -= 1
                if a.per_user[user] <= 0:
                    del a.per_user[user]
        t_end = time.perf_counter()
        if isinstance(result, RenderSuccess):
            body, http_status, media = result.encode(), 200, RESULT_MEDIA_TYPE
            kind, post_s = "-", result.metrics.get("post_s")
        else:
            body, http_status, media = result.to_json(), 422, "application/json"
            kind, post_s = result.kind, None
        log.info(
            "job=%s ok=%s kind=%s queue_s=%.3f run_s=%.3f total_s=%.3f post_s=%s "
            "code_bytes=%d code_sha=%s formats=%s inputs=%d input_bytes=%d answer_bytes=%d user=%s",
            job_id,
            http_status == 200,
            kind,
            t_start - t0,
            t_end - t_start,
            t_end - t0,
            post_s,
            len(job.code),
            hashlib.sha256(job.code.encode()).hexdigest()[:12],
            ",".join(job.formats),
            len(job.inputs),
            sum(len(d) for _, d in job.inputs),
            len(body),
            user or "-",
        )
        log.debug("job=%s code=%r", job_id, job.code)
        # The job folder is removed after the response is sent (BackgroundTask).
        return Response(
            body, status_code=http_status, media_type=media, background=BackgroundTask(remove_job_dir, status)
        )

    return app

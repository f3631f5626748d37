"""The worker job that runs admin-started model evaluations (rules: chat3d.domain.evaluations).

Each task goes through the real pipeline exactly as `python -m bench.eval` runs it (bench.eval.harness.run_task:
a prompt in a fresh chat of a per-run evaluation user, QueryRunner, the render service, scoring against the
reference). The run's queries get their own in-process dispatcher with at most EVAL_RENDER_CONCURRENCY running
at once, separate from the users' queue, so an evaluation never holds more render slots than that.

While tasks run, a watcher reads the spend of the run's queries (the runner stores each query's cost after
every model call) and the cancel flag every half second: past the confirmed cap, or on cancel, the running
queries are stopped and no further task starts.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.metadata
import logging
import re
import subprocess
import uuid

import sqlalchemy as sa
from sqlmodel import col, select

from chat3d.db.engine import in_session, session_scope
from chat3d.db.models import ACTIVE_STATES, Query, User
from chat3d.domain import evaluations
from chat3d.settings import REPO_ROOT, get_settings

log = logging.getLogger("chat3d.evaluations")
POLL_S = 2.0
WATCH_S = 0.5


class HarnessMissing(Exception):
    """This deployment does not include bench/eval or its scoring libraries (trimesh, scipy, manifold3d)."""


def harness():
    try:
        from bench.eval import harness as h
        from bench.eval import suite

        return h, suite
    except ImportError as exc:
        raise HarnessMissing(
            "Evaluations need the benchmark harness (bench/eval and the 'test' extras: trimesh, scipy, manifold3d), "
            f"which this deployment does not include ({exc})."
        ) from None


@functools.lru_cache(maxsize=8)
def suite_info(suite: str) -> tuple[int, str]:
    """(number of tasks, version): the upstream commit from the copy's NOTICE plus a hash of its task files,
    so figures measured on an edited copy never pass for the published suite's."""
    _h, suite_mod = harness()
    tasks = suite_mod.load_tasks(suite)
    root = suite_mod.SUITES_DIR / suite
    digest = hashlib.sha256()
    for path in sorted((root / "tasks").glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    notice = (root / "NOTICE.md").read_text(encoding="utf-8") if (root / "NOTICE.md").is_file() else ""
    commit = re.search(r"commit ([0-9a-f]{40})", notice)
    upstream = commit.group(1)[:12] if commit else "local"
    return len(tasks), f"{upstream}+{digest.hexdigest()[:8]}"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """`git describe` of the running code when it is a checkout, else the installed package's version."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"chat3d {importlib.metadata.version('chat3d')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def render_cap() -> int:
    """At most this many evaluation tasks (each one render at a time) run at once; never more than one user
    may have running, since the run's requests are one user's."""
    s = get_settings()
    return max(1, min(s.eval_render_concurrency, s.max_concurrent_queries_per_user))


def _spent_and_active(user_id: uuid.UUID) -> tuple[float, list[uuid.UUID]]:
    with session_scope() as s:
        spent = s.exec(
            select(sa.func.coalesce(sa.func.sum(Query.cost_usd), 0.0)).where(Query.owner_id == user_id)
        ).one()
        active = s.exec(
            select(Query.id).where(Query.owner_id == user_id, col(Query.state).in_([st.value for st in ACTIVE_STATES]))
        ).all()
    return float(spent), list(active)


def _cancel_queries(user_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    from chat3d.pipeline import queries

    with session_scope() as s:
        for qid in ids:
            queries.cancel(s, user_id, qid)


def _make_user(run_id: uuid.UUID) -> uuid.UUID:
    """The run's own user: its chats and parts stay apart from everyone's, and its spend is the run's."""
    with session_scope() as s:
        user = User(email=f"evaluation-{run_id.hex[:12]}@evaluations.invalid", display_name="Model evaluation")
        s.add(user)
        s.flush()
        return user.id


async def run_evaluation(run_id: uuid.UUID) -> None:
    """Run a claimed evaluation to its end (completed, stopped at the cap, cancelled or failed)."""
    from chat3d.pipeline.jobs import InProcessJobs

    try:
        h, suite_mod = harness()
        run = await in_session(lambda s: evaluations._get(s, run_id))
        tasks = suite_mod.load_tasks(run.suite)[: run.tasks_total]
        choice = h.ModelChoice(run.model, run.conversation_model, run.codegen_model)
        references = {t.id: await asyncio.to_thread(h.metrics.load_mesh, t.reference) for t in tasks}
        user_id = await asyncio.to_thread(_make_user, run_id)
    except Exception as exc:
        log.exception("evaluation %s could not start", run_id)
        error = f"Could not start: {exc}"
        await in_session(lambda s: evaluations.finish_run(s, run_id, error=error))
        return

    jobs = InProcessJobs(concurrency=render_cap())
    lanes = asyncio.Semaphore(render_cap())
    stop: str | None = None
    running: set[asyncio.Task] = set()
    names: dict[asyncio.Task, str] = {}

    async def one(task) -> None:
        nonlocal stop
        try:
            try:
                row = await h.run_task(jobs, user_id, choice, task, references[task.id])
            except Exception as exc:  # e.g. the submit was refused: the task counts, as a failure with its reason
                log.exception("evaluation %s task %s failed", run_id, task.id)
                row = {
                    "task": task.id,
                    "model": choice.name,
                    "state": "failed",
                    "seconds": 0.0,
                    "repair_rounds": 0,
                    "review_rounds": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_usd": 0.0,
                    "valid_solid": False,
                    "passed": False,
                    "score": None,
                    "error": str(getattr(exc, "message", exc))[:500],
                }
            decision = await in_session(lambda s: evaluations.record_task(s, run_id, row))
            stop = stop or decision
        finally:
            lanes.release()

    async def watch() -> None:
        nonlocal stop
        while True:
            await asyncio.sleep(WATCH_S)
            spent, active = await asyncio.to_thread(_spent_and_active, user_id)
            current = ", ".join(sorted(names[t] for t in running if not t.done()))
            decision = await in_session(
                functools.partial(evaluations.progress, run_id=run_id, current_task=current, spent_usd=spent)
            )
            if decision:
                stop = stop or decision
                if active:
                    await asyncio.to_thread(_cancel_queries, user_id, active)
                    for qid in active:
                        await jobs.cancel(qid)

    watcher = asyncio.create_task(watch())
    error = ""
    try:
        for task in tasks:
            await lanes.acquire()
            if stop:
                lanes.release()
                break
            t = asyncio.create_task(one(task))
            names[t] = task.id
            running.add(t)
            t.add_done_callback(running.discard)
        while running:
            await asyncio.gather(*list(running), return_exceptions=True)
    except Exception as exc:
        log.exception("evaluation %s failed", run_id)
        error = f"Failed: {exc}"
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await jobs.close()
    spent, _active = await asyncio.to_thread(_spent_and_active, user_id)
    await in_session(lambda s: evaluations.finish_run(s, run_id, stop=stop, error=error, spent_usd=spent))


def _claim() -> uuid.UUID | None:
    from chat3d.pipeline.jobs import worker_id

    with session_scope() as s:
        evaluations.fail_stale(s)
        run = evaluations.claim_next(s, worker_id(), code_version())
        return run.id if run else None


def _interrupted(run_id: uuid.UUID) -> None:
    with session_scope() as s:
        evaluations.finish_run(s, run_id, error="Interrupted: the worker running it stopped.")


async def run_evaluation_jobs(stop_event: asyncio.Event) -> None:
    """Periodic job (chat3d.worker JOBS): start queued evaluations, one at a time per process."""
    while not stop_event.is_set():
        try:
            run_id = await asyncio.to_thread(_claim)
        except Exception:  # the database may be briefly away; try again next round
            log.exception("evaluation claim failed")
            run_id = None
        if run_id is not None:
            job = asyncio.create_task(run_evaluation(run_id))
            stopper = asyncio.create_task(stop_event.wait())
            await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not job.done():  # shutting down: the run ends as failed, so a new one can be started
                job.cancel()
                await asyncio.gather(job, return_exceptions=True)
                await asyncio.to_thread(_interrupted, run_id)
            continue
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=POLL_S)
        except TimeoutError:
            pass

"""Model evaluations from the admin console (issue 23 item 4): the rules, framework-free.

An admin picks a model, a suite and how many of its tasks to run; the console shows the estimated cost up
front (the model's price per token × the suite's expected tokens per task; the offline model costs 0) and
the admin confirms a cost cap. A worker job (chat3d.pipeline.evaluations) claims the queued run and runs
the tasks through the real pipeline, at most EVAL_RENDER_CONCURRENCY at once so users' requests are not
starved, and stops once the spend passes the confirmed cap. A cancel is seen within a second.

The finished rows are the history an operator picks models by: pass rate and cost per valid part, with the
model, the suite version and the code version the figures were measured with.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from chat3d.db.models import EvaluationRun, EvaluationRunState, Role, User, utcnow
from chat3d.domain.admin import audit
from chat3d.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from chat3d.settings import Settings, get_settings

ACTIVE = (EvaluationRunState.queued.value, EvaluationRunState.running.value)
FINISHED = (
    EvaluationRunState.completed.value,
    EvaluationRunState.stopped.value,
    EvaluationRunState.cancelled.value,
    EvaluationRunState.failed.value,
)
OFFLINE = "offline"
OFFLINE_PAIR = ("offline-conversation", "offline-templates")
MAX_CAP_USD = 1000.0
# A running run whose worker has not reported for this long died with its process.
STALE_AFTER = timedelta(minutes=20)


@dataclass(frozen=True)
class StageTokens:
    input: int
    output: int


# Tokens one task is expected to use, per stage, with one repair round: the conversation turn that calls
# create_3d_model, then code generation (the prompt, the build123d guide and the brief in; a program out).
# Measured on the CadQueryEval prompts with the wire-level fake in tests/bench/test_eval.py (1,000/50 and
# 2,000/300 per call) and rounded up, so the estimate errs high.
EXPECTED_TOKENS_PER_TASK: dict[str, dict[str, StageTokens]] = {
    "cadqueryeval": {"conversation": StageTokens(3_000, 300), "codegen": StageTokens(8_000, 1_500)}
}


@dataclass(frozen=True)
class EvalChoice:
    """A model the console can evaluate: `name` is what the harness's --models takes."""

    name: str
    label: str
    conversation: str
    codegen: str


def _require_admin(user: User | None) -> User:
    if user is None or user.role != Role.admin.value:
        raise Forbidden("Only an administrator can run model evaluations.")
    return user


def model_choices(session: Session, settings: Settings | None = None) -> list[EvalChoice]:
    """The offline pair, then every usable model that serves both stages (turned off for users or not:
    measuring a model is how an admin decides whether to offer it)."""
    from chat3d.domain import model_settings
    from chat3d.llm import registry

    config = model_settings.load(session, settings or get_settings())
    out = [EvalChoice(OFFLINE, "Offline templates", *OFFLINE_PAIR)]
    for spec in registry.available_models(config.settings, probe_ollama=False):
        if spec.provider != "offline" and {"conversation", "codegen"} <= set(spec.stages):
            out.append(EvalChoice(spec.id, spec.label or spec.id, spec.id, spec.id))
    return out


def find_choice(session: Session, name: str, settings: Settings | None = None) -> EvalChoice:
    for choice in model_choices(session, settings):
        if choice.name == name:
            return choice
    raise InvalidInput(f"The model {name!r} cannot be evaluated now: it is unknown, or its provider has no credential.")


def estimate_usd(choice: EvalChoice, suite: str, tasks: int, settings: Settings | None = None) -> float:
    """Price per token × the suite's expected tokens per task × tasks (0 for the offline model)."""
    from chat3d.llm import registry

    settings = settings or get_settings()
    expected = EXPECTED_TOKENS_PER_TASK.get(suite)
    if expected is None:
        raise InvalidInput(f"No token estimate for the suite {suite!r}.")
    total = 0.0
    for stage, model_id in (("conversation", choice.conversation), ("codegen", choice.codegen)):
        spec = registry.get_model(model_id, settings)
        t = expected[stage]
        total += t.input / 1000 * spec.price_in_per_1k + t.output / 1000 * spec.price_out_per_1k
    return round(total * tasks, 4)


def _parse_cap(value: Any) -> float:
    try:
        cap = float(str(value).strip().lstrip("$") if value not in (None, "") else "nan")
    except ValueError:
        cap = math.nan
    if not math.isfinite(cap) or cap < 0 or cap > MAX_CAP_USD:
        raise InvalidInput(f"Enter a cost cap in US dollars between 0 and {MAX_CAP_USD:,.0f}.")
    return round(cap, 4)


def _parse_limit(value: Any, available: int) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if not 1 <= n <= available:
        raise InvalidInput(f"Choose between 1 and {available} tasks.")
    return n


def start_run(
    session: Session,
    admin: User | None,
    model: str,
    *,
    suite: str,
    tasks: Any,
    cost_cap_usd: Any,
    suite_tasks: int,
    suite_version: str,
    settings: Settings | None = None,
    ip: str | None = None,
) -> EvaluationRun:
    """Queue an evaluation after checking the admin, the model, the task count and the confirmed cap.

    `suite_tasks` and `suite_version` describe the suite (read by the caller from bench.eval.suite).
    The run's queries count against the per-user daily budget like any user's, so a cap above that
    budget is refused rather than stopping early for a reason the admin did not choose."""
    admin = _require_admin(admin)
    settings = settings or get_settings()
    choice = find_choice(session, model, settings)
    n = _parse_limit(tasks, suite_tasks)
    cap = _parse_cap(cost_cap_usd)
    budget = settings.daily_cost_budget_usd_per_user
    if budget and cap >= budget:
        raise InvalidInput(
            f"The cap must stay below the per-user daily budget (${budget:.2f}, "
            "DAILY_COST_BUDGET_USD_PER_USER), which the evaluation's requests also count against."
        )
    busy = session.exec(select(EvaluationRun).where(col(EvaluationRun.state).in_(ACTIVE)).with_for_update()).first()
    if busy is not None:
        raise Conflict(f"An evaluation of {busy.model} is already {busy.state}; wait for it or cancel it.")
    run = EvaluationRun(
        model=choice.name,
        conversation_model=choice.conversation,
        codegen_model=choice.codegen,
        suite=suite,
        suite_version=suite_version,
        tasks_total=n,
        estimate_usd=estimate_usd(choice, suite, n, settings),
        cost_cap_usd=cap,
        created_by=admin.id,
    )
    session.add(run)
    session.flush()
    audit(
        session,
        admin,
        "evaluation.start",
        "evaluation_run",
        run.id,
        {"model": choice.name, "suite": suite, "tasks": n, "estimateUsd": run.estimate_usd, "capUsd": cap},
        ip=ip,
    )
    return run


def _get(session: Session, run_id: uuid.UUID | str, *, lock: bool = False) -> EvaluationRun:
    try:
        rid = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError:
        raise NotFound("No such evaluation.") from None
    run = session.get(EvaluationRun, rid, with_for_update=lock)
    if run is None:
        raise NotFound("No such evaluation.")
    return run


def request_cancel(
    session: Session, admin: User | None, run_id: uuid.UUID | str, *, ip: str | None = None
) -> EvaluationRun:
    """A queued run is cancelled at once; a running one when its worker next looks (within a second)."""
    admin = _require_admin(admin)
    run = _get(session, run_id, lock=True)
    if run.state not in ACTIVE:
        raise Conflict("This evaluation has already finished.")
    if run.state == EvaluationRunState.queued.value:
        _finish(run, EvaluationRunState.cancelled, "Cancelled before it started.")
    else:
        run.cancel_requested = True
    session.add(run)
    audit(session, admin, "evaluation.cancel", "evaluation_run", run.id, {"model": run.model}, ip=ip)
    return run


def money(usd: float | None) -> str:
    """Dollars with cents, and sub-cent amounts to four places ($0.0035): model calls often cost less than a cent."""
    if usd is None:
        return "—"
    text = f"{usd:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _finish(run: EvaluationRun, state: EvaluationRunState, message: str) -> None:
    run.state, run.message, run.finished_at, run.current_task = state.value, message, utcnow(), ""


# --- the worker's side ------------------------------------------------------------------------------------------


def claim_next(session: Session, worker_id: str, code_version: str) -> EvaluationRun | None:
    """Take the oldest queued run (one worker only: the row is locked and must still be queued)."""
    run = session.exec(
        select(EvaluationRun)
        .where(EvaluationRun.state == EvaluationRunState.queued.value)
        .order_by(col(EvaluationRun.created_at))
        .with_for_update(skip_locked=True)
    ).first()
    if run is None:
        return None
    run.state, run.worker_id, run.code_version = EvaluationRunState.running.value, worker_id[:100], code_version[:128]
    run.started_at = run.heartbeat_at = utcnow()
    session.add(run)
    return run


def over_cap(run: EvaluationRun, spent_usd: float) -> bool:
    """The spend passed the confirmed cap (reaching it exactly is still within it)."""
    return spent_usd > run.cost_cap_usd + 1e-9


def progress(session: Session, run_id: uuid.UUID, *, current_task: str, spent_usd: float) -> str | None:
    """The worker's heartbeat while tasks run: why to stop now ("cancel" / "cap"), or None to go on."""
    run = _get(session, run_id, lock=True)
    run.heartbeat_at, run.current_task = utcnow(), current_task[:64]
    run.cost_usd = max(run.cost_usd, round(spent_usd, 6))
    session.add(run)
    if run.state != EvaluationRunState.running.value or run.cancel_requested:
        return "cancel"
    return "cap" if over_cap(run, spent_usd) else None


def record_task(session: Session, run_id: uuid.UUID, row: dict) -> str | None:
    """Add one scored task (a bench.eval.harness row) to the run; then why to stop, or None to go on."""
    run = _get(session, run_id, lock=True)
    run.results = [*run.results, row]
    run.tasks_done = len(run.results)
    run.valid_parts = sum(bool(r.get("valid_solid")) for r in run.results)
    run.passed = sum(bool(r.get("passed")) for r in run.results)
    run.input_tokens = sum(int(r.get("input_tokens") or 0) for r in run.results)
    run.output_tokens = sum(int(r.get("output_tokens") or 0) for r in run.results)
    run.cost_usd = round(sum(float(r.get("cost_usd") or 0.0) for r in run.results), 6)
    run.seconds = round(sum(float(r.get("seconds") or 0.0) for r in run.results), 3)
    run.heartbeat_at = utcnow()
    session.add(run)
    if run.cancel_requested:
        return "cancel"
    return "cap" if over_cap(run, run.cost_usd) else None


def finish_run(
    session: Session, run_id: uuid.UUID, *, stop: str | None = None, error: str = "", spent_usd: float | None = None
) -> EvaluationRun:
    """End the run: completed, stopped at the cap, cancelled, or failed (with the reason)."""
    run = _get(session, run_id, lock=True)
    if spent_usd is not None:
        run.cost_usd = max(run.cost_usd, round(spent_usd, 6))
    if error:
        _finish(run, EvaluationRunState.failed, error)
    elif stop == "cancel" or run.cancel_requested:
        _finish(run, EvaluationRunState.cancelled, f"Cancelled after {run.tasks_done} of {run.tasks_total} tasks.")
    elif stop == "cap":
        _finish(
            run,
            EvaluationRunState.stopped,
            f"Stopped after {run.tasks_done} of {run.tasks_total} tasks: the "
            f"spend ({money(run.cost_usd)}) passed the cap ({money(run.cost_cap_usd)}).",
        )
    else:
        _finish(run, EvaluationRunState.completed, "")
    session.add(run)
    return run


def fail_stale(session: Session, now: datetime | None = None) -> int:
    """Runs whose worker stopped reporting (the process died) are marked failed, so a new one can start."""
    cutoff = (now or utcnow()) - STALE_AFTER
    rows = session.exec(
        select(EvaluationRun)
        .where(EvaluationRun.state == EvaluationRunState.running.value, col(EvaluationRun.heartbeat_at) < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    for run in rows:
        _finish(run, EvaluationRunState.failed, "Interrupted: the worker running it stopped.")
        session.add(run)
    return len(rows)


# --- what the console shows -------------------------------------------------------------------------------------


def pass_rate(run: EvaluationRun) -> float | None:
    return run.passed / run.tasks_done if run.tasks_done else None


def cost_per_valid_part(run: EvaluationRun) -> float | None:
    return run.cost_usd / run.valid_parts if run.valid_parts else None


def history(session: Session, admin: User | None, limit: int = 50) -> list[EvaluationRun]:
    """The latest runs, newest first (the active one included)."""
    _require_admin(admin)
    return list(session.exec(select(EvaluationRun).order_by(col(EvaluationRun.created_at).desc()).limit(limit)).all())


def active_run(session: Session) -> EvaluationRun | None:
    return session.exec(
        select(EvaluationRun).where(col(EvaluationRun.state).in_(ACTIVE)).order_by(col(EvaluationRun.created_at).desc())
    ).first()

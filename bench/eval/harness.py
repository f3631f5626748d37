"""Runs a suite through the real pipeline, headless, and scores each part against its reference.

Each task is a user prompt in a fresh chat, submitted with `chat3d.pipeline.queries.submit_query` and run by
`InProcessJobs` → `QueryRunner` — the path a prompt from the UI takes — against the real render service.
The STL the pipeline stored is then scored by `bench.eval.metrics`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.eval import metrics
from bench.eval.suite import Task

TASK_TIMEOUT_S = 900.0
# `--models offline` is the offline provider's pair; any other name is one model id for both stages,
# or "CONVERSATION+CODEGEN" for two.
ALIASES = {"offline": ("offline-conversation", "offline-templates")}


@dataclass(frozen=True)
class ModelChoice:
    name: str
    conversation: str
    codegen: str


def parse_models(text: str) -> list[ModelChoice]:
    out = []
    for name in [m.strip() for m in text.split(",") if m.strip()]:
        if name in ALIASES:
            conv, code = ALIASES[name]
        elif "+" in name:
            conv, code = name.split("+", 1)
        else:
            conv = code = name
        out.append(ModelChoice(name, conv, code))
    if not out:
        raise ValueError("--models names no model")
    return out


def check_models(choices: list[ModelChoice]) -> None:
    """Fail before any work when a model is unknown, lacks its key, or cannot serve its stage."""
    from chat3d.llm import registry
    from chat3d.settings import get_settings

    settings = get_settings()
    usable = {m.id: m for m in registry.available_models(settings, probe_ollama=False)}
    known = {m.id for m in registry.configured_models(settings)}
    for c in choices:
        for stage, mid in (("conversation", c.conversation), ("codegen", c.codegen)):
            if mid not in known:
                raise ValueError(f"unknown model {mid!r}; known: {', '.join(sorted(known))}")
            if mid not in usable:
                raise ValueError(f"model {mid!r} is not usable now: set its provider's API key (see docs/generation-quality.md)")
            if stage not in usable[mid].stages:
                raise ValueError(f"model {mid!r} cannot be used for {stage}")


def _stl_bytes(session, owner_id: uuid.UUID, refs: list[dict]) -> bytes | None:
    from chat3d.domain import files

    ref = next((r for r in refs if r.get("format") == "stl"), None)
    if ref is None:
        return None
    row = files.get_file(session, owner_id, ref["id"])
    return files.absolute_path(row).read_bytes()


async def run_task(jobs, user_id: uuid.UUID, choice: ModelChoice, task: Task, reference) -> dict:
    """One task end to end: submit, wait for the query to finish, score what it stored."""
    from chat3d.db.engine import session_scope
    from chat3d.db.models import ChatItem, Query
    from chat3d.domain import chats
    from chat3d.pipeline import queries

    started = time.perf_counter()
    with session_scope() as s:
        ctx = chats.create_context(s, user_id)
        qid = queries.submit_query(s, user_id, ctx.id, task.prompt, conversation_model_id=choice.conversation,
                                   codegen_model_id=choice.codegen).query.id
    await jobs.enqueue(qid)
    state, segments = "timeout", []
    while time.perf_counter() - started < TASK_TIMEOUT_S:
        with session_scope() as s:
            q = s.get(Query, qid)
            if q is not None and q.state in ("completed", "failed", "cancelled"):
                state = q.state
                item = s.get(ChatItem, q.assistant_item_id) if q.assistant_item_id else None
                segments = list(item.segments) if item is not None else []
                break
        await asyncio.sleep(0.05)
    if state == "timeout":
        await jobs.cancel(qid)
    seconds = time.perf_counter() - started

    model = next((g for g in segments if g.get("type") == "model"), None)
    run: dict[str, Any] = next((g for g in segments if g.get("type") == "run"), {})
    error = next((g.get("message") for g in segments if g.get("type") == "error"), None)
    reply = " ".join(g.get("text", "") for g in segments if g.get("type") == "text").strip()
    usage = run.get("usage") or {}
    row = {
        "task": task.id, "model": choice.name, "state": state, "seconds": round(seconds, 3),
        "repair_rounds": int(run.get("rounds") or 0), "review_rounds": int(run.get("reviewRounds") or 0),
        "input_tokens": int(usage.get("inputTokens") or 0), "output_tokens": int(usage.get("outputTokens") or 0),
        "cost_usd": float(run.get("costUsd") or 0.0), "occt_valid": None, "solids": None,
        "valid_solid": False, "passed": False, "score": None,
        "error": error or (None if model else (f"no model; the reply: {reply[:200]}" if state == "completed" else state)),
    }
    if model is None:
        return row
    m = model.get("metrics") or {}
    row["occt_valid"], row["solids"] = m.get("valid"), m.get("solids")
    with session_scope() as s:
        stl = _stl_bytes(s, user_id, model.get("files") or [])
    if stl is None:
        row["error"] = "the model has no STL"
        return row
    try:
        mesh = await asyncio.to_thread(metrics.load_mesh, stl)
        sc = await asyncio.to_thread(metrics.score, mesh, reference, expected_components=task.expected_components)
    except Exception as exc:  # an unreadable mesh scores nothing but does not stop the suite
        row["error"] = f"scoring failed: {exc}"
        return row
    row["score"] = sc.as_dict()
    row["valid_solid"] = bool(m.get("valid") is True and sc.watertight)
    row["passed"] = sc.passed
    return row


def summarise(rows: list[dict]) -> dict:
    """Overall figures for one model's rows."""
    n = len(rows)
    valid = sum(r["valid_solid"] for r in rows)
    passed = sum(r["passed"] for r in rows)
    scored = [r["score"] for r in rows if r["score"]]
    cost = sum(r["cost_usd"] for r in rows)

    def med(key: str) -> float | None:
        vals = [s[key] for s in scored if s.get(key) is not None]
        return round(statistics.median(vals), 4) if vals else None

    return {
        "tasks": n, "valid_solids": valid, "valid_rate": round(valid / n, 4) if n else None,
        "passed": passed, "accuracy": round(passed / n, 4) if n else None,
        "chamfer_mm_median": med("chamfer_mm"), "hausdorff95_mm_median": med("hausdorff95_mm"),
        # IoU over every task, 0 where no closed part came back: one number comparable across models.
        "iou_mean": round(sum((r["score"] or {}).get("iou") or 0.0 for r in rows) / n, 4) if n else None,
        "repair_rounds": sum(r["repair_rounds"] for r in rows), "review_rounds": sum(r["review_rounds"] for r in rows),
        "input_tokens": sum(r["input_tokens"] for r in rows), "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost_usd": round(cost, 6), "cost_per_valid_part_usd": round(cost / valid, 6) if valid else None,
        "seconds": round(sum(r["seconds"] for r in rows), 2),
    }


async def run_suite(tasks: list[Task], choices: list[ModelChoice],
                    on_done: Callable[[dict], None] = lambda row: None, max_cost_usd: float | None = None) -> dict:
    """Every (model, task) in turn on the already configured database and render service.

    With `max_cost_usd`, no task starts once the run has spent that much (a paid model's bill stays bounded);
    the result then says where it stopped."""
    from chat3d.db.engine import session_scope
    from chat3d.db.models import User
    from chat3d.pipeline.jobs import InProcessJobs

    references = {t.id: metrics.load_mesh(t.reference) for t in tasks}
    with session_scope() as s:
        user = User(email=f"eval-{uuid.uuid4().hex[:8]}@example.com")
        s.add(user)
        s.flush()
        user_id = user.id
    jobs = InProcessJobs(concurrency=1)
    results, spent, stopped = [], 0.0, None
    try:
        for choice in choices:
            rows = []
            for task in tasks:
                if max_cost_usd is not None and spent >= max_cost_usd:
                    stopped = stopped or f"cost cap ${max_cost_usd:.2f} reached before {choice.name} {task.id}"
                    break
                row = await run_task(jobs, user_id, choice, task, references[task.id])
                spent += row["cost_usd"]
                rows.append(row)
                on_done(row)
            results.append({"model": choice.name, "conversation_model": choice.conversation,
                            "codegen_model": choice.codegen, "summary": summarise(rows), "tasks": rows})
    finally:
        await jobs.close()
    return {"models": results, "stopped": stopped}

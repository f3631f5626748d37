"""The evaluation worker job end to end (issue 23 item 4): the real pipeline and render service, bounded to 2 tasks.

The offline model runs two CadQueryEval tasks; a paid model (a local server speaking the OpenAI wire protocol,
through the real SDK) is stopped by the cap the admin confirmed before its second task starts.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import EvaluationRun, Query, Role, User
from chat3d.domain import evaluations as ev
from chat3d.pipeline import evaluations as job
from chat3d.settings import reset_settings_cache
from tests.bench import test_eval
from tests.support.servers import free_port

RUN_TIMEOUT_S = 600


def _start(model: str, tasks: int, cap: float):
    n, version = job.suite_info("cadqueryeval")
    with session_scope() as s:
        admin = User(email="admin@example.com", role=Role.admin.value)
        s.add(admin)
        s.flush()
        run = ev.start_run(s, admin, model, suite="cadqueryeval", tasks=tasks, cost_cap_usd=cap, suite_tasks=n,
                           suite_version=version)
        return run.id


def _run_claimed():
    run_id = job._claim()
    assert run_id is not None
    asyncio.run(asyncio.wait_for(job.run_evaluation(run_id), RUN_TIMEOUT_S))
    with session_scope() as s:
        run = s.get(EvaluationRun, run_id)
        queries = s.exec(select(Query).where(Query.owner_id == s.exec(
            select(User.id).where(User.email.like(f"evaluation-{run_id.hex[:12]}@%"))).one()).order_by(Query.created_at)).all()
        return run, queries


@pytest.mark.slow
def test_the_offline_model_on_two_tasks_through_the_real_pipeline(pipeline_env, monkeypatch):
    monkeypatch.setenv("EVAL_RENDER_CONCURRENCY", "1")
    reset_settings_cache()
    _start("offline", 2, 0)
    run, queries = _run_claimed()

    assert run.state == "completed", run.message
    assert [r["task"] for r in run.results] == ["task1", "task2"] and run.tasks_done == 2
    assert all(r["state"] == "completed" for r in run.results), run.results
    assert run.valid_parts == sum(r["valid_solid"] for r in run.results) and run.valid_parts >= 1
    assert run.passed == sum(r["passed"] for r in run.results)
    assert run.cost_usd == 0 and run.estimate_usd == 0
    assert run.suite_version.startswith("b1791394589c+") and run.code_version not in ("", "unknown")
    assert run.seconds > 0 and run.finished_at is not None and run.current_task == ""
    # The render cap of 1: the run's two requests ran one after the other, never side by side.
    assert len(queries) == 2 and all(q.state == "completed" for q in queries)
    assert queries[0].finished_at <= queries[1].started_at


@pytest.fixture
def paid_model(pipeline_env, monkeypatch):
    """gpt-4.1-mini served by tests/bench/test_eval.py's wire-level fake, answering task1 with a box."""
    monkeypatch.setitem(test_eval.PROGRAMS, "task1", "from build123d import *\nresult = Box(10, 10, 10)\n")
    monkeypatch.setitem(test_eval.BBOX, "task1", [10, 10, 10])
    prompts = {t.id: t.prompt for t in job.harness()[1].load_tasks("cadqueryeval", ["task1", "task2"])}
    fake = test_eval.TaskAwareServer(prompts)
    server, thread = _serve(fake)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


def _serve(fake):
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    return server, thread


@pytest.mark.slow
def test_the_confirmed_cap_stops_a_paid_model_before_its_next_task(paid_model):
    # One task costs about $0.0018 at gpt-4.1-mini's prices with the fake's token counts: the cap is passed
    # during the first task, so the second never starts.
    _start("gpt-4.1-mini", 2, 0.001)
    run, queries = _run_claimed()

    assert run.state == "stopped", run.message
    assert "passed the cap ($0.001)" in run.message
    assert len(queries) == 1 and run.cost_usd > 0.001
    assert run.tasks_done == 1 and run.results[0]["task"] == "task1"
    task2 = json.dumps(paid_model.prompts["task2"])[1:-1]
    assert paid_model.received and not any(task2 in json.dumps(r.body) for r in paid_model.received)

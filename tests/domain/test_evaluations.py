"""Model evaluation rules (issue 23 item 4): the estimate, the confirmed cap stopping a run, cancel, history."""

from __future__ import annotations

import pytest
from sqlmodel import select

from chat3d.db.models import AdminAuditLog, EvaluationRun, Role
from chat3d.domain import evaluations as ev
from chat3d.domain.errors import Conflict, Forbidden, InvalidInput
from chat3d.llm import registry
from chat3d.settings import get_settings, reset_settings_cache

SUITE = {"suite": "cadqueryeval", "suite_tasks": 25, "suite_version": "b1791394589c+test"}


@pytest.fixture
def admin(make_user):
    return make_user("admin@example.com", role=Role.admin.value)


@pytest.fixture
def openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()


def row(task: str, *, cost: float = 0.0, valid: bool = True, passed: bool = False, seconds: float = 2.0) -> dict:
    return {"task": task, "model": "m", "state": "completed", "seconds": seconds, "input_tokens": 100,
            "output_tokens": 10, "cost_usd": cost, "valid_solid": valid, "passed": passed, "score": None, "error": None}


def test_the_estimate_is_price_per_token_times_the_suites_tokens_and_offline_is_free(db, admin, openai_key):
    names = [c.name for c in ev.model_choices(db)]
    assert names[0] == "offline" and "gpt-4.1-mini" in names and "offline-templates" not in names
    mini = ev.find_choice(db, "gpt-4.1-mini")
    spec = registry.get_model("gpt-4.1-mini", get_settings())
    per_task = sum(t.input / 1000 * spec.price_in_per_1k + t.output / 1000 * spec.price_out_per_1k
                   for t in ev.EXPECTED_TOKENS_PER_TASK["cadqueryeval"].values())
    assert per_task > 0
    assert ev.estimate_usd(mini, "cadqueryeval", 10) == pytest.approx(10 * per_task, abs=1e-4)
    assert ev.estimate_usd(ev.find_choice(db, "offline"), "cadqueryeval", 25) == 0.0

    run = ev.start_run(db, admin, "gpt-4.1-mini", tasks="10", cost_cap_usd="$1.50", **SUITE)
    db.commit()
    assert run.estimate_usd == pytest.approx(10 * per_task, abs=1e-4) and run.cost_cap_usd == 1.5
    assert run.state == "queued" and run.conversation_model == run.codegen_model == "gpt-4.1-mini"
    entry = db.exec(select(AdminAuditLog).where(AdminAuditLog.action == "evaluation.start")).one()
    assert entry.details["capUsd"] == 1.5 and entry.details["tasks"] == 10


def test_bad_input_is_refused_with_a_reason_and_nothing_is_queued(db, admin, make_user):
    user = make_user("someone@example.com")
    with pytest.raises(Forbidden):
        ev.start_run(db, user, "offline", tasks=2, cost_cap_usd=0, **SUITE)
    for tasks, cap, match in ((0, 1, "between 1 and 25"), (26, 1, "between 1 and 25"), ("two", 1, "between 1 and 25"),
                              (2, -1, "cost cap"), (2, "abc", "cost cap"), (2, "nan", "cost cap"), (2, "", "cost cap"),
                              (2, 5, "daily budget")):
        with pytest.raises(InvalidInput, match=match):
            ev.start_run(db, admin, "offline", tasks=tasks, cost_cap_usd=cap, **SUITE)
    with pytest.raises(InvalidInput, match="cannot be evaluated"):
        ev.start_run(db, admin, "gpt-4.1", tasks=2, cost_cap_usd=1, **SUITE)  # no OpenAI key here
    assert db.exec(select(EvaluationRun)).all() == []


def test_the_confirmed_cap_stops_a_run_once_the_spend_passes_it(db, admin, openai_key):
    run = ev.start_run(db, admin, "gpt-4.1-mini", tasks=5, cost_cap_usd=0.003, **SUITE)
    db.commit()
    with pytest.raises(Conflict, match="already queued"):
        ev.start_run(db, admin, "offline", tasks=1, cost_cap_usd=0, **SUITE)
    assert ev.claim_next(db, "w1", "v1.2-3-gabc").id == run.id
    db.commit()
    assert ev.claim_next(db, "w2", "x") is None  # one worker runs it

    assert ev.record_task(db, run.id, row("task1", cost=0.002)) is None
    assert ev.progress(db, run.id, current_task="task2", spent_usd=0.003) is None  # reaching the cap is within it
    assert ev.progress(db, run.id, current_task="task2", spent_usd=0.0031) == "cap"  # mid-task spend counts
    assert ev.record_task(db, run.id, row("task2", cost=0.0015)) == "cap"
    done = ev.finish_run(db, run.id, stop="cap")
    db.commit()
    assert done.state == "stopped" and done.tasks_done == 2 and done.cost_usd == pytest.approx(0.0035)
    assert done.message == "Stopped after 2 of 5 tasks: the spend ($0.0035) passed the cap ($0.003)."
    assert done.finished_at is not None
    # Finished: another evaluation may start.
    assert ev.start_run(db, admin, "offline", tasks=1, cost_cap_usd=0, **SUITE).state == "queued"


def test_cancel_ends_a_queued_run_at_once_and_a_running_one_at_its_next_look(db, admin, make_user):
    queued = ev.start_run(db, admin, "offline", tasks=3, cost_cap_usd=0, **SUITE)
    db.commit()
    with pytest.raises(Forbidden):
        ev.request_cancel(db, make_user("someone@example.com"), queued.id)
    assert ev.request_cancel(db, admin, queued.id).state == "cancelled"
    db.commit()
    with pytest.raises(Conflict, match="already finished"):
        ev.request_cancel(db, admin, queued.id)

    running = ev.start_run(db, admin, "offline", tasks=3, cost_cap_usd=0, **SUITE)
    db.commit()
    ev.claim_next(db, "w1", "v1")
    db.commit()
    assert ev.progress(db, running.id, current_task="task1", spent_usd=0.0) is None  # offline: 0 never passes 0
    assert ev.request_cancel(db, admin, running.id).state == "running"
    db.commit()
    assert ev.progress(db, running.id, current_task="task1", spent_usd=0.0) == "cancel"
    assert ev.record_task(db, running.id, row("task1")) == "cancel"
    done = ev.finish_run(db, running.id, stop="cancel")
    assert done.state == "cancelled" and done.message == "Cancelled after 1 of 3 tasks."
    assert {a.action for a in db.exec(select(AdminAuditLog)).all()} == {"evaluation.start", "evaluation.cancel"}


def test_money_shows_cents_and_sub_cent_amounts():
    assert [ev.money(x) for x in (0, 1.5, 0.003, 0.00349, 12.3456, None)] == [
        "$0.00", "$1.50", "$0.003", "$0.0035", "$12.3456", "—"]


def test_history_rows_carry_versions_pass_rate_and_cost_per_valid_part(db, admin, openai_key, make_user):
    run = ev.start_run(db, admin, "gpt-4.1-mini", tasks=3, cost_cap_usd=1, **SUITE)
    db.commit()
    ev.claim_next(db, "w1", "v0.9-12-g1234567-dirty")
    for r in (row("task1", cost=0.01, passed=True), row("task2", cost=0.02, valid=True), row("task3", cost=0.03, valid=False)):
        assert ev.record_task(db, run.id, r) is None
    ev.finish_run(db, run.id)
    db.commit()
    older = run
    newer = ev.start_run(db, admin, "offline", tasks=1, cost_cap_usd=0, **SUITE)
    db.commit()

    rows = ev.history(db, admin)
    assert [r.id for r in rows] == [newer.id, older.id]
    done = rows[1]
    assert (done.model, done.suite, done.suite_version, done.code_version) == (
        "gpt-4.1-mini", "cadqueryeval", "b1791394589c+test", "v0.9-12-g1234567-dirty")
    assert done.state == "completed" and (done.tasks_done, done.valid_parts, done.passed) == (3, 2, 1)
    assert ev.pass_rate(done) == pytest.approx(1 / 3)
    assert ev.cost_per_valid_part(done) == pytest.approx(0.06 / 2)
    assert done.seconds == pytest.approx(6.0) and done.input_tokens == 300
    assert ev.pass_rate(newer) is None and ev.cost_per_valid_part(newer) is None
    with pytest.raises(Forbidden):
        ev.history(db, make_user("someone@example.com"))

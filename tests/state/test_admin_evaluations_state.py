"""The "Evaluate models" handlers on a real state tree: a non-admin's forged start and cancel events change
nothing (a client can send any event); an admin's start queues one run with the estimate, and cancel ends it."""

from __future__ import annotations

import pytest
import reflex as rx
from sqlmodel import Session, select

from chat3d.db.models import EvaluationRun, Role, User
from chat3d.settings import reset_settings_cache
from chat3d.state.admin_evaluations import AdminEvaluationsState
from chat3d.state.auth import AuthState


@pytest.fixture
def section(db: Session, make_user, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()
    who: dict[str, User | None] = {"user": make_user("plain@example.com")}
    monkeypatch.setattr(AuthState, "_current_user", lambda self: who["user"])
    root = rx.State(_reflex_internal_init=True)
    return root.get_substate(AdminEvaluationsState.get_full_name().split(".")[1:]), who


def _runs(db: Session) -> list[EvaluationRun]:
    db.expire_all()
    return list(db.exec(select(EvaluationRun)).all())


def test_a_non_admin_cannot_start_or_cancel_an_evaluation(section, db: Session, make_user) -> None:
    state, who = section
    state.eval_model, state.eval_tasks, state.eval_cap, state.eval_suite_tasks = "offline", "2", "0", 25
    state.start_evaluation()  # forged: the section never loaded for this user
    assert _runs(db) == []

    plain = who["user"]
    who["user"] = make_user("root@example.com", role=Role.admin.value)
    state.load_evaluations()
    assert state.eval_estimate == "$0.00 for 2 tasks (the offline model is free)"
    state.start_evaluation()
    [run] = _runs(db)
    assert (run.state, run.tasks_total, run.model) == ("queued", 2, "offline")
    assert state.eval_active["model"] == "offline" and state.eval_error == ""

    who["user"] = plain
    state.cancel_evaluation(str(run.id))
    assert _runs(db)[0].state == "queued"
    who["user"] = db.get(User, run.created_by)
    state.cancel_evaluation(str(run.id))
    assert _runs(db)[0].state == "cancelled" and state.eval_active == {}
    assert state.eval_history[0]["state_text"] == "Cancelled"

"""The Models tab's "Evaluate models" section: start an evaluation, watch it, cancel it, compare past runs.

The run itself is a worker job (chat3d.pipeline.evaluations); this state only reads its row. While a run is
active a background handler re-reads it every second, so progress shows live whichever process runs it.
Every handler re-checks that the caller is an admin.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.db.models import User
from chat3d.domain import dates
from chat3d.domain.errors import DomainError
from chat3d.state.admin import AdminState

SUITE = "cadqueryeval"
WATCH_S = 1.0
STATE_TEXT = {
    "queued": "Queued",
    "running": "Running",
    "completed": "Completed",
    "stopped": "Stopped at the cap",
    "cancelled": "Cancelled",
    "failed": "Failed",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


class AdminEvaluationsState(AdminState):
    eval_choices: list[dict[str, str]] = []
    eval_model: str = "offline"
    eval_tasks: str = "2"
    eval_cap: str = "0.00"
    eval_estimate: str = ""
    eval_suite_tasks: int = 0
    eval_suite_version: str = ""
    eval_unavailable: str = ""
    eval_error: str = ""
    eval_history: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    eval_active: dict[str, str] = {}
    eval_percent: int = 0
    eval_watching: bool = False

    def _estimate(self) -> None:
        """The estimate for the picked model and task count; the cap field follows it until the admin edits it."""
        from chat3d.domain import evaluations as ev

        try:
            n = int(self.eval_tasks)
        except ValueError:
            self.eval_estimate = ""
            return
        n = max(1, min(n, self.eval_suite_tasks or 1))
        with session_scope() as session:
            try:
                choice = ev.find_choice(session, self.eval_model)
            except DomainError:
                self.eval_estimate = ""
                return
        usd = ev.estimate_usd(choice, SUITE, n)
        self.eval_estimate = f"{ev.money(usd)} for {n} task{'s' if n != 1 else ''}" + (
            " (the offline model is free)" if usd == 0 else ""
        )
        self.eval_cap = f"{usd:.4f}".rstrip("0").rstrip(".") if usd else "0.00"

    def _load_runs(self) -> bool:
        """Re-read history and the active run; True while one is queued or running."""
        from chat3d.domain import evaluations as ev

        admin = self._admin()
        if admin is None:
            return False
        with session_scope() as session:
            runs = ev.history(session, session.get(User, admin.id))
            self.eval_history = [
                {
                    "id": str(r.id),
                    "when": dates.stamp(r.created_at),
                    "model": r.model,
                    "suite": f"{r.suite} {r.suite_version}",
                    "code": r.code_version or "—",
                    "tasks": f"{r.tasks_done}/{r.tasks_total}",
                    "pass_rate": _pct(ev.pass_rate(r)),
                    "valid": str(r.valid_parts),
                    "cost": ev.money(r.cost_usd),
                    "per_valid": ev.money(ev.cost_per_valid_part(r)),
                    "seconds": f"{r.seconds:.1f}",
                    "state": r.state,
                    "state_text": STATE_TEXT.get(r.state, r.state),
                    "message": r.message,
                }
                for r in runs
                if r.state in ev.FINISHED
            ]
            active = ev.active_run(session)
            self.eval_active = (
                {}
                if active is None
                else {
                    "id": str(active.id),
                    "model": active.model,
                    "state": STATE_TEXT[active.state],
                    "done": str(active.tasks_done),
                    "total": str(active.tasks_total),
                    "current": active.current_task,
                    "spent": ev.money(active.cost_usd),
                    "cap": ev.money(active.cost_cap_usd),
                    "cancelling": "1" if active.cancel_requested else "",
                }
            )
            self.eval_percent = 0 if active is None else round(100 * active.tasks_done / max(1, active.tasks_total))
        return active is not None

    @rx.event
    def load_evaluations(self):
        from chat3d.domain import evaluations as ev
        from chat3d.pipeline.evaluations import HarnessMissing, suite_info

        if self._admin() is None:
            return rx.redirect("/login")
        self.eval_error = ""
        try:
            self.eval_suite_tasks, self.eval_suite_version = suite_info(SUITE)
            self.eval_unavailable = ""
        except HarnessMissing as exc:
            self.eval_unavailable = str(exc)
        with session_scope() as session:
            self.eval_choices = [{"name": c.name, "label": c.label} for c in ev.model_choices(session)]
        if self.eval_model not in {c["name"] for c in self.eval_choices}:
            self.eval_model = "offline"
        if not self.eval_unavailable:
            self._estimate()
        if self._load_runs():
            return AdminEvaluationsState.watch_evaluation
        return None

    @rx.event
    def set_eval_model(self, value: str):
        self.eval_model = value
        self._estimate()

    @rx.event
    def set_eval_tasks(self, value: str):
        self.eval_tasks = value[:4]
        self._estimate()

    @rx.event
    def set_eval_cap(self, value: str):
        self.eval_cap = value[:20]

    @rx.event
    def start_evaluation(self):
        from chat3d.domain import evaluations as ev

        admin = self._admin()
        if admin is None:
            return rx.redirect("/login")
        self.eval_error = self.notice = ""
        if self.eval_unavailable:
            self.eval_error = self.eval_unavailable
            return None
        try:
            with session_scope() as session:
                run = ev.start_run(
                    session,
                    session.get(User, admin.id),
                    self.eval_model,
                    suite=SUITE,
                    tasks=self.eval_tasks,
                    cost_cap_usd=self.eval_cap,
                    suite_tasks=self.eval_suite_tasks,
                    suite_version=self.eval_suite_version,
                    ip=self._ip,
                )
                model = run.model
        except DomainError as exc:
            self.eval_error = exc.message
            return None
        self.notice = f"The evaluation of {model} is queued; a worker starts it within a few seconds."
        self._load_runs()
        return AdminEvaluationsState.watch_evaluation

    @rx.event
    def cancel_evaluation(self, run_id: str):
        from chat3d.domain import evaluations as ev

        admin = self._admin()
        if admin is None:
            return rx.redirect("/login")
        self.eval_error = ""
        try:
            with session_scope() as session:
                ev.request_cancel(session, session.get(User, admin.id), run_id, ip=self._ip)
        except DomainError as exc:
            self.eval_error = exc.message
        self._load_runs()
        return None

    @rx.event(background=True)
    async def watch_evaluation(self):
        """Re-read the active run every second until it ends (one watcher per tab)."""
        async with self:
            if self.eval_watching or self._admin() is None:
                return
            self.eval_watching = True
        try:
            while True:
                await asyncio.sleep(WATCH_S)
                async with self:
                    if not self._load_runs():
                        if self.notice.startswith("The evaluation of"):
                            self.notice = ""  # "queued" no longer holds; the history row says how it ended
                        break
        finally:
            async with self:
                self.eval_watching = False

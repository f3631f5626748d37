"""Two app processes (or the app's own workers) starting together on a fresh database both seed the first admin."""

from __future__ import annotations

import threading

from sqlmodel import select

from chat3d.db.models import Role, User
from chat3d.domain.seed import seed_admin
from chat3d.settings import reset_settings_cache


def test_concurrent_start_ups_seed_one_admin_without_crashing(app_env, session, monkeypatch) -> None:
    monkeypatch.setenv("BCRYPT_ROUNDS", "12")  # the real cost: the window between check and insert
    monkeypatch.setenv("CHAT3D_ENV", "development")
    reset_settings_cache()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start_up() -> None:
        barrier.wait()
        try:
            outcomes.append("created" if seed_admin() else "skipped")
        except Exception as exc:  # what crashes the app process
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=start_up) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    admins = session.exec(select(User).where(User.role == Role.admin.value)).all()
    assert len(admins) == 1
    assert sorted(outcomes) == ["created", "skipped"], outcomes

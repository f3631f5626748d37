"""The PostgreSQL pool: a connection that died while idle is replaced before it serves anyone."""

from __future__ import annotations

import time

import sqlalchemy as sa

from chat3d.db import engine as engine_module
from chat3d.db.engine import engine_for


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_connection_killed_while_idle_is_replaced_without_an_error(fresh_database: str, pg_admin_url: str) -> None:
    engine = engine_for(fresh_database)
    engine.dispose()
    pid = _backend_pid(engine)  # the one pooled connection
    assert _backend_pid(engine) == pid, "a connection just used is handed out again as it is"

    admin = sa.create_engine(pg_admin_url)
    with admin.connect() as conn:  # as a server restart or an idle timeout would
        assert conn.execute(sa.text(f"SELECT pg_terminate_backend({pid})")).scalar_one() is True
    admin.dispose()
    time.sleep(engine_module.IDLE_PING_S + 0.2)

    with engine.connect() as conn:  # no OperationalError: the idle connection was tested and replaced
        new_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 0
    assert new_pid != pid

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


def test_usual_postgresql_url_forms_connect_through_the_installed_driver(pg_admin_url: str) -> None:
    """`postgresql://` and `postgres://` (what hosting providers and most docs give) work as DATABASE_URL; SQLAlchemy
    alone would reach for psycopg 3, which is not installed, and fail before connecting."""
    from chat3d.settings import Settings

    rest = pg_admin_url.split("://", 1)[1]
    for scheme in ("postgresql", "postgres"):
        url = Settings(database_url=f"{scheme}://{rest}").effective_database_url
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
    assert Settings(database_url="sqlite:////tmp/x.db").effective_database_url == "sqlite:////tmp/x.db"

"""One engine per database URL and a session helper; SQLite gets the pragmas that make it behave.

Every engine refuses text holding a NUL character before it reaches the database (`_refuse_nul_text`):
PostgreSQL cannot store one (psycopg2 raised a bare ValueError: a 500) while SQLite would; one check here gives
every route and every page the same clear 400 on both.

PostgreSQL connections are checked before use only when they sat idle in the pool (`_ping_if_idle`): a
connection that served a statement a moment ago is alive, and a round trip on every checkout (`pool_pre_ping`)
cost the event publisher 17 % of its time. A server restart leaves every pooled connection idle for longer than
the threshold, so each is still tested, and replaced, before it serves a request.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from chat3d.domain.errors import InvalidInput
from chat3d.settings import get_settings

NUL_MESSAGE = "Text cannot contain NUL characters (\\0)."
IDLE_PING_S = 1.0  # a pooled connection unused for longer than this is tested before it is handed out


def _mark_used(_dbapi_conn, record, *_args) -> None:
    record.info["chat3d_last_used"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    """Test a connection that sat idle; a dead one raises DisconnectionError, so the pool opens a fresh one."""
    if time.monotonic() - record.info.get("chat3d_last_used", 0.0) <= IDLE_PING_S:
        return
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1")
        finally:
            cur.close()
    except Exception as err:  # noqa: BLE001 - any failure means the connection cannot be trusted
        raise exc.DisconnectionError(str(err)) from err


def _refuse_nul_text(_conn, _cursor, _statement, parameters, _context, executemany) -> None:
    rows = parameters if executemany else (parameters,)
    for row in rows:
        for value in row.values() if isinstance(row, dict) else row or ():
            if isinstance(value, str) and "\x00" in value:
                raise InvalidInput(NUL_MESSAGE)


@functools.lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """Create (once) the engine for `url`; SQLite files get their folder, WAL and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=10, connect_args={"connect_timeout": 3})
        event.listen(engine, "connect", _mark_used)
        event.listen(engine, "checkin", _mark_used)
        event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "before_cursor_execute", _refuse_nul_text)
    return engine


def get_engine() -> Engine:
    return engine_for(get_settings().effective_database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error: the unit of work for services."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


T = TypeVar("T")


async def in_session(fn: Callable[[Session], T]) -> T:
    """Run `fn` in its own `session_scope` on a worker thread: async code never blocks its loop on the database."""

    def run() -> T:
        with session_scope() as session:
            return fn(session)

    return await asyncio.to_thread(run)

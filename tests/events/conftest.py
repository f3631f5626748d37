"""Fixtures for the event tests: users straight in the table (no auth layer needed for the domain), and one quiet
app process with Redis per module for the stream tests over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from chat3d.db.engine import engine_for
from chat3d.db.models import NO_PASSWORD, Role, User, UserStatus
from chat3d.settings import reset_settings_cache
from tests.conftest import TEMPLATE_DB, _admin_exec, database_url_for
from tests.events.appserver import ApiServer
from tests.support.servers import ThrowawayRedis


def make_user(session: Session, *, role: str = Role.user.value, status: str = UserStatus.active.value,
              email: str | None = None, password_hash: str | None = None) -> User:
    user = User(
        email=email or f"u-{uuid.uuid4().hex[:10]}@example.test",
        role=role,
        status=status,
        password_hash=password_hash or NO_PASSWORD,
    )
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def user_factory(session: Session):
    def _make(**kw) -> User:
        return make_user(session, **kw)

    return _make


HEARTBEAT_S = 60.0  # no heartbeat re-check can be what closes a stream in these tests


@pytest.fixture(scope="module")
def quiet_stack(pg_admin_url: str, migrated_template: str, tmp_path_factory) -> Iterator[dict]:
    """One app process with Redis and a heartbeat far longer than the test."""
    name = f"chat3d_rv_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    db_url = database_url_for(pg_admin_url, name)
    redis = ThrowawayRedis().start()
    data_dir = tmp_path_factory.mktemp("events-revoke")
    env = {
        "DATABASE_URL": db_url, "REDIS_URL": redis.url, "DATA_DIR": str(data_dir), "CHAT3D_ENV": "test",
        "EVENTS_HEARTBEAT_S": str(HEARTBEAT_S), "RENDER_SERVICE_URL": "http://127.0.0.1:9", "BCRYPT_ROUNDS": "4",
        "JWT_SECRET": "events-test-secret-" + "x" * 32,
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    reset_settings_cache()
    server = None
    try:
        server = ApiServer(env).start(data_dir)
        yield {"url": server.url}
    finally:
        if server is not None:
            server.stop()
        redis.stop()
        mp.undo()
        reset_settings_cache()
        engine_for(db_url).dispose()
        engine_for.cache_clear()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

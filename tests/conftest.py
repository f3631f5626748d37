"""Suite-wide fixtures: real PostgreSQL and Redis (given or throwaway), a clean database per test.

`TEST_DATABASE_URL` / `TEST_REDIS_URL` name servers to use when reachable; otherwise throwaway servers
are started in a temp dir and stopped at the end. Tests create and drop their own databases, so a
developer's data is never touched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session

from chat3d.api import create_api
from chat3d.db.engine import engine_for
from chat3d.db.migrate import upgrade_to_head
from chat3d.db.models import User
from chat3d.domain.passwords import hash_password
from chat3d.settings import REPO_ROOT, reset_settings_cache
from tests.support.app_data import AppData
from tests.support.app_process import AppProcess, RenderServiceProcess
from tests.support.containers import SessionImages, unavailable_reason
from tests.support.servers import ThrowawayPostgres, ThrowawayRedis

# --- tests that run the shipped images under Docker go last, their images building from the start -----------------
DOCKER_FIXTURES = frozenset({"docker_host", "render_image", "stack_images"})


def _needs_docker(item: pytest.Item) -> bool:
    return bool(DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items[:] = [i for i in items if not _needs_docker(i)] + [i for i in items if _needs_docker(i)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """A cold image build takes minutes: start it now, beside the rest of the suite (SessionImages)."""
    if session.config.option.collectonly or not any(_needs_docker(i) for i in session.items):
        return
    if unavailable_reason() is None:
        session.config.chat3d_session_images = SessionImages()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session) -> None:
    images = getattr(session.config, "chat3d_session_images", None)
    if images is not None:
        images.close()


SHARED_DIR = Path(os.environ.get("CHAT3D_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
TEMPLATE_DB = "chat3d_test_template"


def _reachable_db(url: str | None) -> bool:
    if not url:
        return False
    try:
        eng = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def _reachable_redis(url: str | None) -> bool:
    if not url:
        return False
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser URL on a PostgreSQL server that tests may create databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if _reachable_db(given):
        yield given  # type: ignore[misc]
        return
    server = ThrowawayPostgres().start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("TEST_REDIS_URL")
    if _reachable_redis(given):
        yield given  # type: ignore[misc]
        return
    server = ThrowawayRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


def _admin_exec(admin_url: str, *statements: str) -> None:
    eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        for stmt in statements:
            conn.execute(sa.text(stmt))
    eng.dispose()


def database_url_for(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str) -> str:
    """A database migrated to head once per run; each test's database is a copy of it."""
    _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {TEMPLATE_DB}", f"CREATE DATABASE {TEMPLATE_DB}")
    url = database_url_for(pg_admin_url, TEMPLATE_DB)
    upgrade_to_head(url)
    engine_for(url).dispose()
    return url


@pytest.fixture
def fresh_database(pg_admin_url: str, migrated_template: str) -> Iterator[str]:
    """A new, migrated, empty PostgreSQL database, dropped after the test."""
    name = f"chat3d_t_{uuid.uuid4().hex[:12]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    url = database_url_for(pg_admin_url, name)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def app_env(fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the settings at a clean database and a temp data dir; returns the data dir."""
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAT3D_ENV", "test")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("RENDER_SERVICE_URL", "http://127.0.0.1:9")
    reset_settings_cache()
    try:
        yield tmp_path / "data"
    finally:
        reset_settings_cache()


@pytest.fixture
def session(app_env: Path):
    """A SQLModel session on the test's clean database."""
    from sqlmodel import Session

    from chat3d.db.engine import get_engine

    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def render_service(tmp_path_factory) -> Iterator[RenderServiceProcess]:
    """The real render service, one process for the whole run."""
    svc = RenderServiceProcess().start(tmp_path_factory.mktemp("render"))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def web_build_lock() -> Iterator[None]:
    """One running app per checkout at a time: `reflex run` builds into the shared `.web` folder."""
    import fcntl

    with open(REPO_ROOT / ".web.lock", "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
        fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def running_app(web_build_lock, pg_admin_url: str, migrated_template: str, render_service, tmp_path_factory) -> Iterator[AppProcess]:
    """The real app (`reflex run --env prod`), once per session, for tests/browser and tests/security alike."""
    from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    _admin_exec(pg_admin_url, "DROP DATABASE IF EXISTS chat3d_browser", "CREATE DATABASE chat3d_browser")
    app = AppProcess(
        data_dir=tmp_path_factory.mktemp("app-data"),
        database_url=database_url_for(pg_admin_url, "chat3d_browser"),
        render_url=render_service.url,
        render_token=render_service.token,
        env_extra={"SEED_ADMIN_EMAIL": ADMIN_EMAIL, "SEED_ADMIN_PASSWORD": ADMIN_PASSWORD},
    ).start()
    yield app
    app.stop()
    _admin_exec(pg_admin_url, "DROP DATABASE IF EXISTS chat3d_browser WITH (FORCE)")


# --- accounts: cheap bcrypt, fresh rate-limit counters, a session and a user factory, an API client ----------------
# Not autouse: other suites (health) build production settings, which refuse a bcrypt cost below 12.

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts_env(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """app_env with bcrypt cost 4 and no rate-limit hits carried over from other tests."""
    from chat3d.domain.ratelimit import reset_rate_limits

    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    reset_settings_cache()
    reset_rate_limits()
    yield app_env
    reset_rate_limits()


@pytest.fixture
def db(accounts_env: Path, session: Session) -> Session:
    return session


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(email: str = "user@example.com", *, password: str = PASSWORD, **fields) -> User:
        user = User(email=email, password_hash=hash_password(password), **fields)
        db.add(user)
        db.commit()
        return user

    return make


@pytest.fixture
def api(accounts_env: Path) -> TestClient:
    """A client on a fresh API app (no lifespan: queued jobs do not run; tests/api's live_api runs them)."""
    return TestClient(create_api())


@pytest.fixture(scope="module")
def app_data(running_app: AppProcess) -> Iterator[AppData]:
    """Rows put straight into the running app's database and data dir (tests/security, tests/browser)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", running_app.database_url)
        mp.setenv("DATA_DIR", str(running_app.data_dir))
        mp.setenv("CHAT3D_ENV", "test")
        mp.setenv("BCRYPT_ROUNDS", "4")  # only in this process: it creates accounts, the app verifies them
        mp.delenv("REDIS_URL", raising=False)
        reset_settings_cache()
        try:
            yield AppData(running_app)
        finally:
            reset_settings_cache()

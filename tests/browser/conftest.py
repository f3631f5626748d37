"""Browser tests: the real running app (PostgreSQL, render service) driven by Playwright in Debian Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat3d.settings import REPO_ROOT
from tests.conftest import _admin_exec, database_url_for
from tests.support.app_process import AppProcess

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery-9"


@pytest.fixture(scope="session")
def web_build_lock() -> Iterator[None]:
    """One running app per checkout at a time: `reflex run` builds into the shared `.web` folder."""
    import fcntl

    with open(REPO_ROOT / ".web.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
        fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def running_app(web_build_lock, pg_admin_url: str, migrated_template: str, render_service, tmp_path_factory) -> Iterator[AppProcess]:
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


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it is open,
# which would break every later test that starts its own asyncio loop.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") and "/usr/bin/chromium"
    if not exe or not Path(exe).exists():
        pytest.fail("Debian's chromium is missing (apt-get install -y chromium); make test installs it as root")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()

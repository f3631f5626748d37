"""Browser tests: the real running app (PostgreSQL, render service) driven by Playwright in Debian Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat3d.settings import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery-9"


# `web_build_lock` and `running_app` live in tests/conftest.py: tests/security attacks the same running app, and
# one fixture definition keeps it to one app (and one hold on the lock) per session.


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

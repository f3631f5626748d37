"""Waiting until a page of the running app is live before typing into it, and signing in through /login.

A page arrives as prerendered HTML; it is live once Reflex's scripts run and the websocket has hydrated the
state. Until then its forms do nothing (chat3d/components/forms.py): each form says which it is in `data-live`.
Filling and clicking only after that keeps browser tests steady on a loaded machine.
"""

from __future__ import annotations

import re

LIVE_TIMEOUT_MS = 60_000  # generous: the machine may be busy; a page that never goes live still fails


def wait_until_live(page, timeout: float = LIVE_TIMEOUT_MS) -> None:
    """Wait until the page's forms are live (the state is hydrated)."""
    from playwright.sync_api import expect

    expect(page.locator("form[data-live]").first).to_have_attribute("data-live", "true", timeout=timeout)


def sign_in(page, base_url: str, email: str, password: str, landing: str | re.Pattern = re.compile(r"/chat")) -> None:
    """Sign in through /login once it is live and wait for the page it lands on (`landing`: URL or pattern)."""
    page.goto(base_url + "/login")
    wait_until_live(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if landing:
        page.wait_for_url(landing, timeout=30_000)

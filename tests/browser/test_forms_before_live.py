"""A form used before the page is live never puts its fields in a URL (real app, app JavaScript held back).

A fast click on a slow connection reaches the prerendered HTML before Reflex's handlers are attached: the
browser's own submission (GET) would put the password in the address bar, the history and access logs, and
lose what the user typed. Here the app's scripts are held, the user fills /register and /login and tries to
submit (click, Enter, a password manager's scripted submit); every request and page URL is recorded. Then the
scripts are let through and the same filled-in form works.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect

from tests.support.live_page import wait_until_live
from tests.support.mailbox import confirm_registration

pytestmark = pytest.mark.browser
PASSWORD = "a-long-secret-passphrase-7"


class HeldScripts:
    """Holds every script request of a page until `release()`, recording every request and page URL."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.held: list = []
        self.holding = True
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("framenavigated", lambda frame: self.urls.append(frame.url))
        page.route("**/*", self._route)

    def _route(self, route) -> None:
        if self.holding and route.request.resource_type == "script":
            self.held.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.holding = False
        for route in self.held:
            route.continue_()
        self.held.clear()

    def leaks(self, secret: str) -> list[str]:
        """Recorded URLs that carry `secret` (as typed or URL-encoded), the page's current URL included."""
        forms = {secret, quote_plus(secret), quote_plus(secret).replace("-", "%2D")}
        return [url for url in [*self.urls, self.page.url] if any(f in url for f in forms)]


def _try_to_submit_early(page: Page, net: HeldScripts, form_id: str, button: str, secrets: list[str]) -> None:
    """Everything a user (or a password manager) does to submit a form that is not live yet; none may leak."""
    attempts = {
        "click": lambda: page.get_by_role("button", name=button).click(force=True),  # force: it may be disabled
        "Enter": lambda: page.get_by_label("Password").press("Enter"),
        # Password managers submit by script, past the button: the form itself must not submit by GET.
        "scripted submit": lambda: page.evaluate("id => document.getElementById(id).requestSubmit()", form_id),
    }
    for name, attempt in attempts.items():
        attempt()
        page.wait_for_timeout(1000)  # a submission starts its navigation at once: let it reach the recording
        for secret in secrets:
            assert net.leaks(secret) == [], f"{name} before the page was live put {secret!r} in a URL"


def test_register_and_sign_in_before_the_page_is_live_keep_the_password_out_of_urls(running_app, browser) -> None:
    email = f"early-{uuid.uuid4().hex[:8]}@example.com"
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        net = HeldScripts(page)
        page.goto(running_app.url + "/register", wait_until="commit")
        expect(page.get_by_role("button", name="Create account")).to_be_visible(timeout=30_000)
        assert net.held, "the app's scripts were not held back: this test would prove nothing"
        page.get_by_label("Email").fill(email)
        page.get_by_label("Display name").fill("Early")
        page.get_by_label("Password").fill(PASSWORD)
        _try_to_submit_early(page, net, "register-form", "Create account", [PASSWORD, email.split("@")[0]])
        # The button says it is not ready yet, and the page did not move.
        expect(page.get_by_role("button", name="Create account")).to_be_disabled()
        assert re.search(r"/register/?$", page.url), page.url
        # What the user typed is still there.
        expect(page.get_by_label("Email")).to_have_value(email)
        expect(page.get_by_label("Password")).to_have_value(PASSWORD)

        # The scripts arrive: the same filled-in form now registers on the next press.
        net.release()
        wait_until_live(page)
        expect(page.get_by_label("Password")).to_have_value(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text("Check your mail")).to_be_visible(timeout=30_000)
        confirm_registration(running_app.url, running_app.data_dir, email)
        assert net.leaks(PASSWORD) == []

        # Sign in, in a fresh browser whose scripts are held again.
        context.close()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        net = HeldScripts(page)
        page.goto(running_app.url + "/login", wait_until="commit")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
        assert net.held, "the app's scripts were not held back: this test would prove nothing"
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        _try_to_submit_early(page, net, "login-form", "Sign in", [PASSWORD, email.split("@")[0]])
        assert re.search(r"/login/?$", page.url), page.url
        expect(page.get_by_label("Password")).to_have_value(PASSWORD)

        net.release()
        wait_until_live(page)
        expect(page.get_by_label("Email")).to_have_value(email)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/chat/?$"), timeout=30_000)
        assert net.leaks(PASSWORD) == []
    finally:
        context.close()

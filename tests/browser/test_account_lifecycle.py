"""Account lifecycle in the real app: delete by mail link, refused login with guidance, reactivate by mail.

Also: forgot password → reset page → sign in with the new password, and a used link explains itself.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.support.live_page import sign_in
from tests.support.mailbox import confirm_registration
from tests.support.mailbox import wait_for_mail as _mail

PASSWORD = "a-long-test-password"


def _path_of(mail: dict, part: str) -> str:
    """The link's path and query (mail links name the public base URL; the test app listens elsewhere)."""
    link = next(link for link in mail["links"] if part in link)
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _register(app, email: str) -> None:
    """Open registration: 202 "check your mail", then the owner confirms the mailed link."""
    resp = httpx.post(app.url + "/api/auth/register", json={"email": email, "password": PASSWORD, "displayName": "Lifecycle"})
    assert resp.status_code == 202, resp.text
    confirm_registration(app.url, app.data_dir, email)


def _sign_in(page, url: str, email: str, password: str = PASSWORD) -> None:
    """Press Sign in; where it leads (or what it refuses) is each test's to check."""
    sign_in(page, url, email, password, landing=None)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"account-{name}.png"), full_page=True)


def test_delete_confirm_refused_login_reactivate_login(running_app, page) -> None:
    url, data_dir = running_app.url, running_app.data_dir
    email = f"leaver-{uuid.uuid4().hex[:8]}@example.com"
    _register(running_app, email)
    _sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/chat"), timeout=30_000)

    page.goto(url + "/profile")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("This browser")).to_be_visible()
    _shot(page, "profile")

    page.get_by_role("button", name="Delete my account…").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Current password").fill(PASSWORD)
    _shot(page, "delete-dialog")
    dialog.get_by_role("button", name="Email me the confirmation link").click()
    expect(page.get_by_role("status").filter(has_text="confirmation link")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Waiting for your confirmation by email")).to_be_visible()

    # Opening the link changes nothing (mail scanners prefetch): the account still works until Confirm.
    link = _path_of(_mail(data_dir, email, "Confirm the deletion"), "/profile/actions/confirm")
    page.goto(url + link)
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible(timeout=30_000)
    _shot(page, "delete-confirm")
    assert httpx.post(url + "/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
    page.get_by_role("button", name="Confirm: delete my account").click()
    expect(page.get_by_role("status")).to_contain_text("deactivated", timeout=30_000)
    _shot(page, "delete-done")

    # The deactivated account's session is gone: a protected page sends the browser to sign in.
    page.goto(url + "/profile")
    page.wait_for_url(re.compile(r"/login"), timeout=30_000)
    _sign_in(page, url, email)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("scheduled for deletion", timeout=30_000)
    expect(alert).to_contain_text("/reactivate")
    _shot(page, "login-refused")

    # A wrong password still gets the ordinary answer.
    _sign_in(page, url, email, "not-the-password-at-all")
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password", timeout=30_000)

    page.goto(url + "/reactivate")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a reactivation link").click()
    expect(page.get_by_role("status")).to_contain_text("we sent it a link", timeout=30_000)
    _shot(page, "reactivate-form")

    link = _path_of(_mail(data_dir, email, "Reactivate your"), "/profile/actions/confirm")
    page.goto(url + link)
    expect(page.get_by_role("heading", name="Reactivate your account")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Welcome back", timeout=30_000)
    _shot(page, "reactivate-done")

    # The same link a second time explains itself and points to the next step.
    page.goto(url + link)
    expect(page.get_by_role("alert")).to_contain_text("already been used", timeout=30_000)
    _shot(page, "link-used")

    _sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/chat"), timeout=30_000)


def test_forgot_password_reset_by_link_then_sign_in(running_app, page) -> None:
    url, data_dir = running_app.url, running_app.data_dir
    email = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    _register(running_app, email)

    page.goto(url + "/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.wait_for_url(re.compile(r"/forgot-password"), timeout=30_000)
    # The new route's page mounts after the URL changes; the sign-in page has an Email field too.
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible(timeout=30_000)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account uses this address", timeout=30_000)
    _shot(page, "forgot")

    link = _path_of(_mail(data_dir, email, "Reset your"), "/reset-password")
    page.goto(url + link)
    page.get_by_label("New password", exact=True).fill("brand-new-password-1")
    page.get_by_label("Repeat the new password").fill("brand-new-password-2")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match", timeout=30_000)
    page.get_by_label("Repeat the new password").fill("brand-new-password-1")
    _shot(page, "reset-form")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("status")).to_contain_text("password is changed", timeout=30_000)
    _shot(page, "reset-done")

    _sign_in(page, url, email, "brand-new-password-1")
    page.wait_for_url(re.compile(r"/chat"), timeout=30_000)

"""Register, sign out, and sign in through the pages, landing on the page that asked for it."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.support.live_page import wait_until_live
from tests.support.mailbox import registration_token


def test_register_sign_out_sign_in_lands_on_next(running_app, page) -> None:
    email = f"maker-{uuid.uuid4().hex[:8]}@example.com"
    password = "a-long-test-password"

    page.goto(running_app.url + "/register")
    wait_until_live(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill("Maker")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    # Open registration: the page says "check your mail"; the account works once the mailed link is confirmed.
    expect(page.get_by_text("Check your mail")).to_be_visible(timeout=30_000)
    expect(page.locator("#register-form")).to_be_hidden()
    token = registration_token(running_app.data_dir, email)
    page.goto(running_app.url + "/profile/actions/confirm?token=" + token)
    expect(page.get_by_text("Confirm your email address")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your address is confirmed")).to_be_visible(timeout=30_000)
    page.goto(running_app.url + "/login")
    wait_until_live(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/chat/?$"), timeout=30_000)
    expect(page.get_by_role("heading", name=re.compile("Welcome, Maker"))).to_be_visible(timeout=30_000)

    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/?"), timeout=30_000)

    # A protected page sends a signed-out visitor to sign in, remembering where they were going.
    page.goto(running_app.url + "/chat?view=recent")
    page.wait_for_url(re.compile(r"/login/?\?next="), timeout=30_000)
    wait_until_live(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password", timeout=30_000)

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/chat/?\?view=recent$"), timeout=30_000)
    expect(page.get_by_role("heading", name=re.compile("Welcome, Maker"))).to_be_visible(timeout=30_000)


def test_register_refuses_a_weak_password_with_the_servers_words(running_app, page) -> None:
    page.goto(running_app.url + "/register")
    wait_until_live(page)
    page.get_by_label("Email").fill(f"weak-{uuid.uuid4().hex[:6]}@example.com")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("common", timeout=30_000)
    assert "/register" in page.url


def test_security_headers_on_pages_and_api(running_app) -> None:
    import httpx

    for path in ("/", "/login", "/api/public/config"):
        headers = httpx.get(running_app.url + path).headers
        assert headers.get("x-content-type-options") == "nosniff", path
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), path

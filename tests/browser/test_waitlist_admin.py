"""Waitlist and admin console in the real app: waitlist mode switched on in the console changes the home page;
join → confirmation mail → confirm → admin approves → register from the mail's link → sign in. Screenshots of
every console tab go to test-artifacts/."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS
from tests.support.live_page import sign_in, wait_until_live
from tests.support.mailbox import wait_for_mail as _mail

TABS = ("Dashboard", "Users", "Waitlist", "Settings", "Audit log", "Security events", "Outbox")


def _link(mail: dict, path: str) -> str:
    return next(link for link in mail["links"] if path in link)


def _set_waitlist_mode(url: str, on: bool) -> None:
    with httpx.Client(base_url=url) as client:
        token = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["token"]
        resp = client.patch("/api/admin/settings", json={"waitlistEnabled": on},
                            headers={"Authorization": f"Bearer {token}"}, cookies={})
        assert resp.status_code == 200, resp.text


def test_waitlist_join_approve_register_and_console(running_app, page, browser) -> None:
    url = running_app.url
    email = f"hopeful-{uuid.uuid4().hex[:8]}@example.com"
    password = "a-long-waitlist-password"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # The admin switches waitlist mode on in the console.
        sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
        page.goto(url + "/admin?tab=settings")
        switch = page.get_by_role("switch", name="Waitlist mode")
        expect(switch).to_be_visible(timeout=30_000)
        if switch.get_attribute("aria-checked") != "true":
            switch.click()
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_contain_text("Settings saved", timeout=30_000)
        assert httpx.get(url + "/api/public/config").json()["waitlistEnabled"] is True

        # A visitor sees the waitlist call to action and joins.
        visitor_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        visitor = visitor_ctx.new_page()
        visitor.goto(url + "/")
        visitor.get_by_role("link", name="Join the waitlist").click()
        visitor.wait_for_url(re.compile(r"/waitlist/?$"), timeout=30_000)
        visitor.get_by_label("Email").fill(email)
        visitor.get_by_label(re.compile("occasional news")).check()
        visitor.get_by_role("button", name="Join the waitlist").click()
        expect(visitor.get_by_role("status")).to_contain_text("Check your inbox", timeout=30_000)

        confirm_mail = _mail(running_app.data_dir, email, "Confirm your place")
        assert "unsubscribe" in confirm_mail["text"]
        visitor.goto(_link(confirm_mail, "/waitlist/confirm?token="))
        expect(visitor.get_by_text("You are about to confirm")).to_be_visible(timeout=30_000)
        visitor.get_by_role("button", name="Confirm my email").click()
        expect(visitor.get_by_role("status")).to_contain_text("you are on the waitlist", timeout=30_000)
        visitor.get_by_role("link", name="See the status of my request").click()
        expect(visitor.get_by_text("Waiting for approval")).to_be_visible(timeout=30_000)

        # The admin approves it in the console (filter kept in the URL).
        page.goto(url + "/admin?tab=waitlist&status=pending_admin_approval")
        row = page.get_by_role("row").filter(has_text=email)
        expect(row).to_be_visible(timeout=30_000)
        row.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status")).to_contain_text("approved", timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)

        # The visitor registers from the mail's link, then signs out and in again.
        approved = _mail(running_app.data_dir, email, "You're in")
        visitor.goto(_link(approved, "/register?token="))
        wait_until_live(visitor)
        expect(visitor.get_by_label("Email")).to_have_value(email)
        visitor.get_by_label("Display name").fill("Hopeful")
        visitor.get_by_label("Password").fill(password)
        visitor.get_by_role("button", name="Create account").click()
        visitor.wait_for_url(re.compile(r"/chat"), timeout=30_000)
        visitor_ctx.close()
        login_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        again = login_ctx.new_page()
        sign_in(again, url, email, password)
        login_ctx.close()

        # Another admin tab sees a settings change without reloading.
        other_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        other = other_ctx.new_page()
        sign_in(other, url, ADMIN_EMAIL, ADMIN_PASSWORD)
        other.goto(url + "/admin?tab=settings")
        quota = other.get_by_label("Invitations per user")
        expect(quota).to_be_visible(timeout=30_000)
        new_quota = str(int(quota.input_value()) + 1)
        page.goto(url + "/admin?tab=settings")
        page.get_by_label("Invitations per user").fill(new_quota)
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_contain_text("Settings saved", timeout=30_000)
        expect(quota).to_have_value(new_quota, timeout=20_000)
        other_ctx.close()

        # Screenshots of every tab (looked at by a person).
        page.goto(url + "/admin")
        for name in TABS:
            page.get_by_role("tab", name=name).click()
            page.wait_for_timeout(1200)
            page.screenshot(path=str(ARTIFACTS / f"admin-{name.lower().replace(' ', '-')}.png"), full_page=True)
        assert "tab=outbox" in page.url
        page.goto(url + "/admin?tab=audit")
        expect(page.get_by_text("waitlist.approve")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("settings.update").first).to_be_visible()
        assert errors == []
    finally:
        _set_waitlist_mode(url, False)

"""Live UI in the real app: every signed-in page follows the tab's one event stream (app shell).

(a) the admin console's waitlist tab shows a newly confirmed entry and another admin's approval without a
reload; (b) a settings change by another admin appears without a reload (no polling left); (c) a
notification raises the bell's badge live, the popover and the notification center show it (over the same
stream: a page change keeps the tab's connection), "Mark all read" clears it; (d) a suspended user's open
/chat tab lands on /login with the deactivation message.
Screenshots go to test-artifacts/live-*.png.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS
from tests.support.live_page import sign_in
from tests.support.mailbox import confirm_registration
from tests.support.mailbox import wait_for_mail as _mail

LIVE_TIMEOUT = 15_000  # a live change must arrive well within this, with no reload
HEADERS = {"X-Chat3D-CSRF": "1"}


def _shot(page: Page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"live-{name}.png"), full_page=full_page)


def _mark_no_reload(page: Page) -> None:
    """A marker on `window` that a reload (or a full navigation) would wipe."""
    page.evaluate("window.__liveMarker = 'still-here'")


def _assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__liveMarker") == "still-here", "the page was reloaded"


def _admin_token(url: str) -> str:
    resp = httpx.post(url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, headers=HEADERS)
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def _join_and_confirm(url: str, data_dir: Path, email: str) -> None:
    """A visitor joins the waitlist and confirms by the mail's token: admins get a `notification.created`."""
    resp = httpx.post(url + "/api/waitlist/join", json={"email": email}, headers=HEADERS)
    assert resp.status_code == 202, resp.text
    link = next(u for u in _mail(data_dir, email, "Confirm your place")["links"] if "/waitlist/confirm?token=" in u)
    token = parse_qs(urlsplit(link).query)["token"][0]
    resp = httpx.post(url + "/api/waitlist/confirm-email", json={"token": token}, headers=HEADERS)
    assert resp.status_code == 200, resp.text


@pytest.fixture
def second(browser):
    """A second, independent browser context (another admin, another device)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def test_waitlist_tab_follows_confirmations_and_other_admins_approvals(running_app, page, second) -> None:
    url, data_dir = running_app.url, running_app.data_dir
    email = f"live-wait-{uuid.uuid4().hex[:8]}@example.com"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(url + "/admin?tab=waitlist")
    expect(page.get_by_role("tab", name="Waitlist", selected=True)).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)  # the stream is open
    _mark_no_reload(page)

    # A new confirmed entry appears in the open tab by itself.
    _join_and_confirm(url, data_dir, email)
    row = page.get_by_role("row").filter(has_text=email)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(row).to_contain_text("pending admin approval")

    # Another admin approves it in another browser: the first tab shows the new status.
    sign_in(second, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    second.goto(url + "/admin?tab=waitlist&status=pending_admin_approval")
    other_row = second.get_by_role("row").filter(has_text=email)
    expect(other_row).to_be_visible(timeout=30_000)
    # Through "Approve selected" (audited as waitlist.bulk_approve, so the console test's audit check of a
    # single waitlist.approve row is not disturbed by this one).
    # The box is controlled by the server's selection: it shows ticked after the round trip, so click and wait
    # for it (Playwright's check() reads the state at once and fails when the server answers a little later).
    box = other_row.get_by_role("checkbox")
    box.click()
    expect(box).to_be_checked(timeout=30_000)
    second.get_by_role("button", name=re.compile(r"Approve selected \(1\)")).click()
    expect(second.get_by_role("status")).to_contain_text("Approved 1", timeout=30_000)

    expect(row).to_contain_text("approved", timeout=LIVE_TIMEOUT)
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    _assert_not_reloaded(page)
    _shot(page, "admin-waitlist", full_page=True)
    assert errors == []


def test_settings_change_by_another_admin_appears_without_reload(running_app, page, second) -> None:
    url = running_app.url
    sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(url + "/admin?tab=settings")
    quota = page.get_by_label("Invitations per user")
    expect(quota).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)
    _mark_no_reload(page)

    sign_in(second, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    second.goto(url + "/admin?tab=settings")
    other_quota = second.get_by_label("Invitations per user")
    expect(other_quota).to_be_visible(timeout=30_000)
    new_quota = str(int(other_quota.input_value()) + 1)
    other_quota.fill(new_quota)
    second.get_by_role("button", name="Save settings").click()
    expect(second.get_by_role("status")).to_contain_text("Settings saved", timeout=30_000)

    expect(quota).to_have_value(new_quota, timeout=LIVE_TIMEOUT)
    expect(page.get_by_text("You changed the settings in another window")).to_be_visible()  # same admin account
    # The tab that saved says nothing about another window: it made the change itself.
    expect(second.get_by_text("in another window")).to_have_count(0)
    _assert_not_reloaded(page)
    _shot(page, "admin-settings")


def test_bell_badge_counts_live_and_center_marks_all_read(running_app, page) -> None:
    url, data_dir = running_app.url, running_app.data_dir
    token = _admin_token(url)
    resp = httpx.post(url + "/api/notifications/read-all", headers={**HEADERS, "Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/api/events/stream" in r.url else None)

    sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    bell = page.get_by_role("button", name=re.compile(r"^Notifications"))
    expect(bell).to_have_accessible_name("Notifications", timeout=30_000)
    expect(page.get_by_test_id("bell-badge")).to_have_count(0)
    page.wait_for_timeout(1500)
    _mark_no_reload(page)

    email = f"live-bell-{uuid.uuid4().hex[:8]}@example.com"
    _join_and_confirm(url, data_dir, email)
    expect(bell).to_have_accessible_name("Notifications (1 unread)", timeout=LIVE_TIMEOUT)
    expect(page.get_by_test_id("bell-badge")).to_have_text("1")
    _assert_not_reloaded(page)
    page.screenshot(path=str(ARTIFACTS / "live-bell-badge.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 64})

    # The popover lists it (title and body from the payload).
    bell.click()
    popover = page.get_by_role("dialog")
    expect(popover.get_by_text("A waitlist request awaits approval").first).to_be_visible(timeout=10_000)
    expect(popover.get_by_text(email)).to_be_visible()
    _shot(page, "bell-popover")

    # The center shows it emphasised; "Mark all read" clears the badge. The tab keeps its one stream across the
    # page change (a new one would start at "now" and miss what happened in between).
    assert len(streams) == 1, streams
    popover.get_by_role("link", name="View all notifications").click()
    page.wait_for_url(re.compile(r"/notifications$"), timeout=30_000)
    _assert_not_reloaded(page)
    first = page.get_by_test_id("notification-row").first
    expect(first).to_contain_text(email, timeout=30_000)
    expect(first).to_have_attribute("data-unread", "true")
    expect(page.get_by_test_id("notifications-unread")).to_have_text("1 unread")
    _shot(page, "center-unread", full_page=True)

    page.get_by_role("button", name="Mark all read").click()
    expect(first).to_have_attribute("data-unread", "false", timeout=10_000)
    expect(page.get_by_role("button", name=re.compile(r"^Notifications"))).to_have_accessible_name("Notifications")
    expect(page.get_by_test_id("bell-badge")).to_have_count(0)
    expect(page.get_by_test_id("notifications-unread")).to_have_text("Nothing unread")

    # A notification arriving while the center is open appears at the top, unread, without a reload.
    _mark_no_reload(page)
    second_email = f"live-bell-{uuid.uuid4().hex[:8]}@example.com"
    _join_and_confirm(url, data_dir, second_email)
    expect(page.get_by_test_id("notification-row").first).to_contain_text(second_email, timeout=LIVE_TIMEOUT)
    expect(page.get_by_test_id("notification-row").first).to_have_attribute("data-unread", "true")
    _assert_not_reloaded(page)
    assert len(streams) == 1, streams
    page.get_by_test_id("notification-row").first.get_by_role("button", name="Mark read").click()
    expect(page.get_by_test_id("bell-badge")).to_have_count(0, timeout=10_000)
    _shot(page, "center-read", full_page=True)
    assert errors == []


def test_suspended_user_is_signed_out_at_once(running_app, page, second) -> None:
    url = running_app.url
    email = f"live-suspend-{uuid.uuid4().hex[:8]}@example.com"
    password = "a-long-test-password"
    resp = httpx.post(url + "/api/auth/register", json={"email": email, "password": password, "displayName": "Suspended"},
                      headers=HEADERS)
    assert resp.status_code == 202, resp.text
    confirm_registration(url, running_app.data_dir, email)

    sign_in(page, url, email, password)
    expect(page.get_by_test_id("workspace")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1500)

    sign_in(second, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    second.goto(url + "/admin?tab=users&q=" + email)
    row = second.get_by_role("row").filter(has_text=email)
    expect(row).to_be_visible(timeout=30_000)
    row.get_by_role("button", name="Deactivate").click()
    dialog = second.get_by_role("alertdialog")
    dialog.get_by_label("Reason (recorded in the audit log)").fill("Live UI test")
    started = time.monotonic()
    dialog.get_by_role("button", name="Suspend account").click()

    page.wait_for_url(re.compile(r"/login/?\?reason=deactivated"), timeout=10_000)
    took = time.monotonic() - started
    notice = page.get_by_test_id("login-notice")
    expect(notice).to_contain_text("deactivated", timeout=10_000)
    _shot(page, "login-deactivated")
    assert took < 10, f"the suspended tab took {took:.1f}s to leave"
    expect(second.get_by_role("status")).to_contain_text("suspended", timeout=30_000)

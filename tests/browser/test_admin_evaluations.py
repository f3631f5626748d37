"""Evaluate models in the admin console, in the real app (issue 23 item 4): the admin starts an evaluation of the
offline model limited to 2 tasks, sees the estimate, live progress and the finished row in the history. The run is
the app's own worker job (the embedded deployment runs the periodic jobs in-process) against the real render
service."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS
from tests.support.live_page import sign_in

pytestmark = pytest.mark.browser
RUN_TIMEOUT_MS = 600_000


def test_admin_evaluates_the_offline_model_on_two_tasks_and_sees_progress_and_history(running_app, page: Page) -> None:
    url = running_app.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(url + "/admin?tab=models")
    expect(page.get_by_role("heading", name="Evaluate models")).to_be_visible(timeout=30_000)
    expect(page.locator("#eval-estimate")).to_contain_text("$0.00 for 2 tasks (the offline model is free)")

    # Bad input is refused with a reason, and nothing starts.
    page.get_by_label("Tasks").fill("99")
    page.get_by_role("button", name="Start evaluation").click()
    expect(page.get_by_role("alert").filter(has_text="Choose between 1 and 25 tasks.")).to_be_visible()
    expect(page.locator("#eval-progress")).to_have_count(0)

    page.get_by_label("Tasks").fill("2")
    expect(page.locator("#eval-estimate")).to_contain_text("for 2 tasks")
    page.get_by_role("button", name="Start evaluation").click()
    progress = page.locator("#eval-progress")
    expect(progress).to_contain_text("of 2 tasks done", timeout=30_000)
    expect(page.get_by_role("button", name="Start evaluation")).to_be_disabled()
    # Live progress: the first task finishes while the page is open, without a reload.
    expect(progress).to_contain_text("1 of 2 tasks done", timeout=RUN_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-evaluations-running.png"), full_page=True)

    row = page.get_by_test_id("eval-history-row").first
    expect(row).to_contain_text("Completed", timeout=RUN_TIMEOUT_MS)
    expect(progress).to_have_count(0)
    expect(page.get_by_text("is queued")).to_have_count(0)  # the notice went with the run
    expect(row).to_contain_text("offline")
    expect(row).to_contain_text("2/2")
    expect(row).to_contain_text("cadqueryeval b1791394589c+")
    expect(row.get_by_role("cell").nth(5)).to_have_text(re.compile(r"^(0|50|100) %$"))  # pass rate
    expect(row.get_by_role("cell").nth(7)).to_have_text("$0.00")  # cost
    expect(page.get_by_role("button", name="Start evaluation")).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "admin-evaluations-history.png"), full_page=True)

    # The history is stored: it is there after a reload.
    page.reload()
    expect(page.get_by_test_id("eval-history-row").first).to_contain_text("2/2", timeout=30_000)
    assert errors == []

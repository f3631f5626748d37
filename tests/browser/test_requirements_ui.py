"""Issue 23 in the browser: a prompt's answer shows its requirement checklist under the model, and the Versions
tab shows it per version (offline models, real render service)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_workspace import _sign_up, _wait_completed

PROMPT = "a 80 x 50 x 5 mm plate with four 4 mm holes and chamfers"
CHECKLIST = "80 × 50 × 5 mm ✓ · 4 holes Ø4 ✓ · 5 mm thick ✓ · chamfers ✗ not modelled"


def test_a_prompt_shows_its_checklist_under_the_model(running_app, page: Page) -> None:
    _sign_up(page, running_app, "Checker")
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
    chat_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(f'[data-chat-id="{chat_id}"]')).to_be_visible(timeout=30_000)
    prompt = page.get_by_label("Prompt")
    prompt.fill(PROMPT)
    prompt.press("Enter")
    _wait_completed(page, 1)
    answer = page.get_by_test_id("assistant-bubble").first
    expect(answer.get_by_test_id("requirements-checklist")).to_have_text(CHECKLIST)
    expect(answer).to_contain_text("Not met: chamfers (not modelled).")
    page.get_by_role("tab", name="Versions").click()
    expect(page.get_by_test_id("version-checklist").first).to_have_text(CHECKLIST, timeout=30_000)

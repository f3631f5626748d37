"""Models in the admin console, in the real app: an admin adds an OpenAI key (pointed at a local server speaking
OpenAI's wire protocol), tests the connection, chooses which models users may pick and the default, and a user
sees the friendly model names in the composer. The key never reaches the page after it is saved."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS
from tests.llm.llm_fakes import FakeLLMServer, serving
from tests.support.live_page import sign_in

KEY = "sk-proj-browser-test-0123456789WXYZ"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fake_openai():
    with serving(FakeLLMServer()) as fake:
        yield fake


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-models-{name}.png"), full_page=True)


def _restore(url: str) -> None:
    """The app is shared by every browser test: leave its models as they were (offline defaults, no key)."""
    with httpx.Client(base_url=url) as client:
        token = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        client.patch("/api/admin/models/offline-conversation", json={"defaultFor": "conversation"}, headers=h)
        client.patch("/api/admin/models/gpt-4.1", json={"enabled": True}, headers=h)
        client.delete("/api/admin/models/credentials/openai", headers=h)


def test_admin_adds_a_key_tests_it_enables_models_and_a_user_sees_friendly_names(running_app, page: Page, browser,
                                                                                 fake_openai) -> None:
    from tests.support.mailbox import sign_up

    url = running_app.url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, url, ADMIN_EMAIL, ADMIN_PASSWORD)
        page.goto(url + "/admin?tab=models")
        expect(page.get_by_role("heading", name="Providers")).to_be_visible(timeout=30_000)

        # Add the key; the server address points the SDK at the local fake.
        page.get_by_role("button", name="Add OpenAI key").click()
        page.get_by_label("API key").fill(KEY)
        page.get_by_label("Server address (optional)").fill(f"{fake_openai.url}/v1")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status").filter(has_text="OpenAI is set up")).to_be_visible(timeout=30_000)
        expect(page.get_by_label("Key fingerprint")).to_have_text("…WXYZ")
        assert KEY not in page.content()

        # Test the connection: one call to the configured host, with the key.
        page.get_by_role("button", name="Test OpenAI connection").click()
        expect(page.get_by_role("status").filter(has_text="OpenAI answered: 2 models")).to_be_visible(timeout=30_000)
        assert fake_openai.received and fake_openai.received[-1].headers["authorization"] == f"Bearer {KEY}"

        # GPT-4.1 mini becomes usable; the admin turns GPT-4.1 off and makes the mini the default conversation model.
        row = page.get_by_role("row").filter(has_text="gpt-4.1-mini")
        expect(row.get_by_text("Ready")).to_be_visible()
        page.get_by_role("switch", name="Users may pick GPT-4.1", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="can no longer pick GPT-4.1")).to_be_visible(timeout=30_000)
        page.get_by_role("combobox", name="Conversation model").click()
        page.get_by_role("option", name="GPT-4.1 mini", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="New chats talk with GPT-4.1 mini")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("switch", name="Users may pick GPT-4.1 mini")).to_be_checked()
        _shot(page, "console")
        assert KEY not in page.content()

        # A user sees friendly names: the default is "GPT-4.1 mini", GPT-4.1 is not offered, no ids.
        user_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        user = user_ctx.new_page()
        user.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            sign_up(user, running_app, f"picker-{uuid.uuid4().hex[:8]}@example.com", "Picker", "a-long-test-password")
            expect(user.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)
            user.get_by_role("button", name="New chat").click()
            user.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
            picker = user.get_by_role("combobox", name="Conversation model")
            expect(picker).to_have_text("GPT-4.1 mini", timeout=30_000)
            picker.click()
            options = user.get_by_role("option")
            expect(options.filter(has_text="GPT-4.1 mini")).to_have_count(1)
            names = [t.strip() for t in options.all_inner_texts()]
            assert "GPT-4.1" not in names and "Offline templates" in names
            assert not any(re.fullmatch(r"[a-z0-9.\-]+", n) for n in names), names  # no raw ids
            _shot(user, "composer")
        finally:
            user_ctx.close()
        # Phone, dark: the tab fits 390 px without sideways scrolling and still shows only the fingerprint.
        phone_ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                        is_mobile=True, has_touch=True)
        phone = phone_ctx.new_page()
        try:
            sign_in(phone, url, ADMIN_EMAIL, ADMIN_PASSWORD)
            phone.goto(url + "/admin?tab=models")
            expect(phone.get_by_label("Key fingerprint")).to_have_text("…WXYZ", timeout=30_000)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            _shot(phone, "phone-dark")
        finally:
            phone_ctx.close()
        assert errors == []
    finally:
        _restore(url)

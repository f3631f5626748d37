"""Issue 26, workspace round 2, in the browser (offline models, real render service): the Versions tab follows the
open chat and its new versions; thread and Versions tab number versions alike; a deterministic regeneration says
it changed nothing; Compare shows its units; downloads are named after the chat and import again (into the empty
chat made for them, none left behind on failure); the thread keeps a new reply's end in sight; the profile lists
every share link with Revoke. At desktop light, and the phone (390 px) in dark: the top bar fits without cutting
the name, the header and pane switcher stay in sight, and the answer leads to the preview."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_workspace import PLATE, PLATE_DIMS, RUN_TIMEOUT, _canvas_shows_a_part
from tests.support.cad_files import CORRUPT_STEP

CUBE = "a 30 mm cube"
CUBE_DIMS = "30.0 × 30.0 × 30.0 mm"
TALLER_DIMS = "30.0 × 30.0 × 38.0 mm"


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"round2-{name}.png"))


def _sign_up(page: Page, app, name: str) -> None:
    from tests.support.mailbox import sign_up

    sign_up(page, app, f"r2-{uuid.uuid4().hex[:8]}@example.com", name, "a-long-test-password")
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)


def _new_chat(page: Page) -> str:
    before = page.url
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(lambda url: url != before and re.search(r"/chat/[0-9a-f-]{36}$", url), timeout=30_000)
    chat_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(f'[data-chat-id="{chat_id}"]')).to_be_visible(timeout=30_000)
    return chat_id


def _send(page: Page, prompt: str, answers: int) -> None:
    """Send a prompt and wait until the thread has `answers` completed answers."""
    box = page.get_by_label("Prompt")
    box.fill(prompt)
    box.press("Enter")
    expect(page.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))).to_have_count(
        answers, timeout=RUN_TIMEOUT)


def _in_sight(page: Page, locator) -> None:
    """Wholly inside the thread's visible area, above the composer and on screen (not scrolled off, not behind)."""
    box = locator.bounding_box()
    scroller = page.locator("#thread-scroll").bounding_box()
    composer = page.get_by_label("Prompt").bounding_box()
    height = page.viewport_size["height"]
    assert box is not None and scroller is not None and composer is not None
    bottom = box["y"] + box["height"]
    assert box["y"] >= scroller["y"] - 1 and bottom <= scroller["y"] + scroller["height"] + 1, (box, scroller)
    assert bottom <= composer["y"] and bottom <= height, (box, composer, height)


def _last_answer_in_sight(page: Page) -> None:
    last = page.get_by_test_id("assistant-bubble").last
    page.wait_for_timeout(400)  # any late layout (images, fonts) has happened
    _in_sight(page, last.get_by_test_id("metrics-line"))
    _in_sight(page, last.get_by_role("button", name="Good answer"))


def test_round2_desktop_light(running_app, page: Page) -> None:
    base = running_app.url
    _sign_up(page, running_app, "Rounder")

    # Chat A: the plate. Its answer carries the Versions tab's number.
    _new_chat(page)
    _send(page, PLATE, 1)
    expect(page.get_by_test_id("assistant-bubble").first).to_contain_text("Version 1")
    page.get_by_role("tab", name="Versions").click()
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(PLATE_DIMS)

    # Chat B: the Versions tab shows B's versions, not A's (it used to keep A's, with working Share/Fork/Compare).
    chat_b = _new_chat(page)
    panel = page.get_by_test_id("versions-panel")
    expect(panel).to_contain_text("No versions yet.")
    expect(rows).to_have_count(0)
    _send(page, CUBE, 1)
    # ... and it refreshes when the new version arrives, without clicking the tab again.
    expect(rows).to_have_count(1, timeout=30_000)
    expect(rows.first).to_contain_text(CUBE_DIMS)
    expect(panel).not_to_contain_text(PLATE_DIMS)

    # Regenerating with the deterministic offline model writes the same program: it says so, stores nothing.
    page.get_by_test_id("assistant-bubble").first.get_by_role("button", name="Regenerate", exact=True).click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=30_000)
    regenerated = page.get_by_test_id("assistant-bubble").nth(1)
    expect(regenerated).to_contain_text("same program as Version 1", timeout=RUN_TIMEOUT)
    expect(regenerated).not_to_contain_text("Version 2")
    expect(rows).to_have_count(1)

    # A follow-up makes version 2: the thread and the Versions tab say "Version 2" for the same answer.
    _send(page, "make it 8 mm taller", 3)
    follow_up = page.get_by_test_id("assistant-bubble").last
    expect(follow_up).to_contain_text(TALLER_DIMS)
    expect(follow_up).to_contain_text("Version 2")
    expect(rows).to_have_count(2, timeout=30_000)
    expect(rows.first).to_contain_text("Version 2")
    expect(rows.first).to_contain_text(TALLER_DIMS)
    # The new reply's size line and buttons are in sight, not below the fold or behind the composer.
    _last_answer_in_sight(page)
    _shot(page, "desktop-versions")

    # Compare: every row has its unit, the delta too (the volume delta was "+21,817.0" in a cm³ row).
    rows.nth(1).get_by_role("button", name="Compare Version 1").click()
    compare = page.get_by_test_id("version-compare")
    expect(compare).to_contain_text("Version 1 → Version 2")
    volume = compare.locator("tr").filter(has_text="Volume")
    expect(volume).to_contain_text(re.compile(r"27\.0 cm³.*34\.2 cm³.*\+7\.2 cm³"))
    size = compare.locator("tr").filter(has_text="Size")
    expect(size).to_contain_text("+0.0 / +0.0 / +8.0 mm")
    _shot(page, "desktop-compare")

    # Downloads are named after the chat and version, and the Files tab shows those names.
    page.get_by_role("tab", name="Files").click()
    expect(page.get_by_text("a-30-mm-cube-v2.step", exact=True)).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download STEP").click()
    assert dl.value.suggested_filename == "a-30-mm-cube-v2.step", dl.value.suggested_filename
    step = open(dl.value.path(), "rb").read()

    # Share version 2; the profile page lists the link (never its secret) and revokes it.
    page.get_by_role("tab", name="Versions").click()
    page.get_by_role("button", name="Share Version 2").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill("Cube for Ana")
    dialog.get_by_role("radio", name="7 days").click()
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.get_by_test_id("share-url").input_value()
    token = url.rsplit("/", 1)[-1]
    dialog.get_by_role("button", name="Done").click()

    # Import: a damaged STEP is refused with a clear message and leaves no chat behind; then Chat3D's own download,
    # saved as model.step, imports into the empty chat made for it (no second, empty chat).
    chats = page.get_by_test_id("chat-row")
    expect(chats).to_have_count(2)
    _new_chat(page)
    expect(chats).to_have_count(3)
    page.get_by_role("button", name="Import STEP/STL").click()
    import_dialog = page.get_by_role("dialog")
    import_dialog.locator("input[type=file]").set_input_files(
        {"name": "broken.step", "mimeType": "application/octet-stream", "buffer": CORRUPT_STEP})
    alert = import_dialog.get_by_role("alert")
    expect(alert).to_contain_text("broken.step could not be", timeout=60_000)
    expect(alert).not_to_contain_text("HTTP")
    expect(chats).to_have_count(3)
    import_dialog.locator("input[type=file]").set_input_files(
        {"name": "model.step", "mimeType": "application/octet-stream", "buffer": step})
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=60_000)
    expect(page.get_by_test_id("user-bubble")).to_contain_text("Imported model.step", timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble").first).to_contain_text(TALLER_DIMS)
    expect(page.get_by_test_id("assistant-bubble").first).to_contain_text("Version 1")
    expect(chats).to_have_count(3)
    expect(chats.first).to_contain_text("model")
    _shot(page, "desktop-imported")

    page.goto(f"{base}/profile")
    links = page.get_by_test_id("profile-share-row")
    expect(links).to_have_count(1, timeout=30_000)
    link = links.first
    expect(link).to_contain_text("A 30 mm cube")
    expect(link).to_contain_text("Version 2 · Cube for Ana")
    expect(link).to_contain_text("Expires in 7 days")
    expect(link).to_contain_text("0 views")
    expect(link).to_contain_text("active")
    assert token not in page.content()
    expect(link.get_by_role("link", name="A 30 mm cube")).to_have_attribute("href", f"/chat/{chat_b}")
    page.locator("#share-links").scroll_into_view_if_needed()
    _shot(page, "desktop-profile-links")
    link.get_by_role("button", name=re.compile("^Revoke link")).click()
    expect(link).to_contain_text("revoked")
    expect(link.get_by_role("button", name=re.compile("^Revoke link"))).to_have_count(0)
    assert page.request.get(f"{base}/api/share/{token}").status == 404


def test_round2_phone_dark(running_app, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        base = running_app.url
        # A long name: it must show whole, and the page must not scroll sideways.
        name = "Maximiliane Oberhuber-Lindqvist"
        _sign_up(page, running_app, name)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide"
        account = page.get_by_test_id("account-menu")
        expect(account).to_contain_text(name)
        box = account.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        _shot(page, "phone-empty")

        page.get_by_role("button", name=f"Try: {PLATE}").click()
        page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
        expect(page.get_by_test_id("user-bubble")).to_contain_text("four 4 mm holes", timeout=30_000)
        expect(page.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))).to_have_count(
            1, timeout=RUN_TIMEOUT)
        # On arrival the top bar and the pane switcher are in sight (the page itself never scrolled).
        assert page.evaluate("window.scrollY") == 0
        switch = page.get_by_test_id("pane-switch")
        assert switch.bounding_box()["y"] >= 0 and page.get_by_test_id("top-bar").bounding_box()["y"] >= 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        _send(page, "make it 8 mm taller", 2)
        assert page.evaluate("window.scrollY") == 0
        _last_answer_in_sight(page)
        _shot(page, "phone-thread")

        # The answer leads to the preview.
        page.get_by_test_id("assistant-bubble").last.get_by_role("button", name="Open 3D preview").click()
        viewer = page.get_by_test_id("model-viewer")
        expect(viewer).to_contain_text("80.0 × 50.0 × 13.0 mm")
        _canvas_shows_a_part(page)
        _shot(page, "phone-preview")

        page.get_by_role("tab", name="Versions").click()
        rows = page.get_by_test_id("version-row")
        expect(rows).to_have_count(2)
        rows.nth(1).get_by_role("button", name="Compare Version 1").click()
        expect(page.get_by_test_id("version-compare")).to_contain_text("cm³")
        _shot(page, "phone-versions")
        page.get_by_role("button", name="Share Version 2").click()
        page.get_by_role("dialog").get_by_role("button", name="Create link").click()
        expect(page.get_by_role("dialog").get_by_test_id("share-url")).to_be_visible()
        page.get_by_role("dialog").get_by_role("button", name="Done").click()

        page.goto(f"{base}/profile")
        expect(page.get_by_test_id("profile-share-row")).to_have_count(1, timeout=30_000)
        expect(page.get_by_test_id("profile-share-row")).to_contain_text("Version 2")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.locator("#share-links").scroll_into_view_if_needed()
        _shot(page, "phone-profile-links")
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_round2_phone_dark.png"), full_page=True)
        context.close()

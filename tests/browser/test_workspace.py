"""The chat workspace end to end: prompt → live progress → 3D preview → downloads → rating → regenerate →
rename → delete (files gone), at desktop and phone sizes, light and dark. Offline models, real render service."""

from __future__ import annotations

import io
import re
import struct
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS

PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"
PLATE_DIMS = "80.0 × 50.0 × 5.0 mm"
INTERMEDIATE = re.compile(r"^(Queued|Reading request|Writing code|Rendering|Repairing.*)$")
RUN_TIMEOUT = 90_000


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"workspace-{name}.png"))


def _sign_up(page: Page, app, name: str) -> None:
    """Register, confirm the mailed link, sign in (tests.support.mailbox.sign_up)."""
    from tests.support.mailbox import sign_up

    sign_up(page, app, f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com", name, "a-long-test-password")
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)


def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (64, 48), "white")
    ImageDraw.Draw(img).rectangle([8, 8, 56, 40], outline="black", width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _canvas_shows_a_part(page: Page) -> None:
    """The viewer's canvas is not blank: many distinct colours, and the part's blue-grey shading is there."""
    from PIL import Image

    viewer = page.get_by_test_id("model-viewer")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    canvas = viewer.locator("canvas")
    expect(canvas).to_be_visible()
    page.wait_for_timeout(500)
    img = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20) or []
    bluish = sum(n for n, (r, g, b) in colours if b - r > 25 and b > 80)
    total = img.width * img.height
    assert len(colours) > 50, f"canvas looks blank ({len(colours)} colours)"
    assert bluish > total * 0.01, f"no part visible ({bluish} of {total} pixels)"


def _wait_completed(page: Page, count: int) -> None:
    chips = page.get_by_test_id("progress-chip")
    expect(chips.filter(has_text=re.compile(r"^Completed$"))).to_have_count(count, timeout=RUN_TIMEOUT)


def test_workspace_desktop_light(running_app, page: Page) -> None:
    base = running_app.url
    _sign_up(page, running_app, "Plate")

    # Create a chat, then send the prompt from the composer with Enter.
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
    # The new route's page mounts (its code may still be loading) after the URL changes: wait until it shows
    # the new chat, or the text would go into the old page's box.
    chat_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(f'[data-chat-id="{chat_id}"]')).to_be_visible(timeout=30_000)
    prompt = page.get_by_label("Prompt")
    prompt.fill(PLATE)
    # Attach a sketch: it is checked and stored, shown as a thumbnail, and sent with the prompt.
    page.locator("input[type=file]").set_input_files(
        {"name": "sketch.png", "mimeType": "image/png", "buffer": _png()})
    expect(page.get_by_role("button", name="Remove sketch.png")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(prompt).to_have_value(PLATE)
    prompt.press("Enter")

    # Live progress: an intermediate stage shows up, then completion.
    expect(page.get_by_test_id("user-bubble")).to_contain_text("four 4 mm holes", timeout=30_000)
    expect(page.get_by_test_id("user-bubble").get_by_role("img", name="sketch.png")).to_be_visible()
    expect(page.get_by_role("button", name="Remove sketch.png")).to_have_count(0)
    expect(page.get_by_test_id("progress-chip").filter(has_text=INTERMEDIATE).first).to_be_visible(timeout=30_000)
    _shot(page, "desktop-running")
    _wait_completed(page, 1)
    expect(prompt).to_have_value("")

    # The answer: metrics line and the 3D preview with its dimensions.
    answer = page.get_by_test_id("assistant-bubble").first
    expect(answer.get_by_test_id("metrics-line")).to_contain_text(PLATE_DIMS)
    viewer = page.get_by_test_id("model-viewer")
    expect(viewer).to_contain_text(PLATE_DIMS)
    _canvas_shows_a_part(page)
    page.get_by_role("button", name="Top view").click()
    page.wait_for_timeout(300)
    _shot(page, "desktop-preview")
    # The chat got its name from the prompt.
    expect(page.get_by_test_id("chat-row").first).to_contain_text("80 x 50 x 5 mm plate")

    # Code and Details tabs.
    page.get_by_role("tab", name="Code").click()
    expect(page.get_by_text("build123d").first).to_be_visible()
    page.get_by_role("tab", name="Details").click()
    expect(page.get_by_text("Valid solid")).to_be_visible()

    # Files: STEP and STL download and parse.
    page.get_by_role("tab", name="Files").click()
    _shot(page, "desktop-files")
    with page.expect_download() as step_dl:
        page.get_by_role("link", name="Download STEP").click()
    step_bytes = open(step_dl.value.path(), "rb").read()
    assert step_bytes.startswith(b"ISO-10303-21"), step_bytes[:40]
    with page.expect_download() as stl_dl:
        page.get_by_role("link", name="Download STL").click()
    stl = open(stl_dl.value.path(), "rb").read()
    (triangles,) = struct.unpack_from("<I", stl, 80)
    assert triangles > 0 and len(stl) == 84 + 50 * triangles, (triangles, len(stl))
    file_urls = [a.get_attribute("href") for a in page.locator("a[download]").all()]
    assert len(file_urls) >= 4, file_urls

    # Thumbs up persists after a reload.
    answer.get_by_role("button", name="Good answer").click()
    expect(answer.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    page.reload()
    answer = page.get_by_test_id("assistant-bubble").first
    expect(answer.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true", timeout=30_000)

    # Regenerate adds a second answer. The offline code model is deterministic: it writes the same program, so the
    # answer says so and no copy is stored as a version (issue 26 item 10).
    answer.get_by_role("button", name="Regenerate", exact=True).click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=30_000)
    second = page.get_by_test_id("assistant-bubble").nth(1)
    expect(second.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))).to_be_visible(
        timeout=RUN_TIMEOUT)
    expect(second).to_contain_text("same program as Version 1")
    expect(page.get_by_text("Version 2")).to_have_count(0)
    expect(page.get_by_test_id("assistant-bubble").first.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "true")
    # Ratings are per answer: the new version starts unrated, and rating it leaves the first one as it was.
    first = page.get_by_test_id("assistant-bubble").first
    expect(second.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "false")
    second.get_by_role("button", name="Bad answer").click()
    expect(second.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "true")
    expect(first.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    expect(first.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "false")
    second.get_by_role("button", name="Bad answer").click()  # the same thumb again clears it
    expect(second.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "false")
    expect(first.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("tab", name="Files").click()
    file_urls += [a.get_attribute("href") for a in page.locator("a[download]").all()]
    _shot(page, "desktop-regenerated")

    # Rename inline, then delete with confirmation; the chat's files are gone.
    page.get_by_role("button", name=re.compile(r"^Rename chat ")).first.click()
    name_box = page.get_by_label("Chat name")
    name_box.fill("Mounting plate")
    name_box.press("Enter")
    expect(page.get_by_test_id("chat-row").first).to_contain_text("Mounting plate")
    expect(page.get_by_role("heading", name="Mounting plate")).to_be_visible()
    page.get_by_role("button", name="Delete chat Mounting plate").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Mounting plate")
    _shot(page, "desktop-delete-confirm")
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/chat/?$"), timeout=30_000)
    expect(page.get_by_test_id("chat-row")).to_have_count(0)
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    for url in set(file_urls):
        assert page.request.get(base + url).status == 404, url


def test_workspace_phone_dark(running_app, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        _sign_up(page, running_app, "Phone")
        switch = page.get_by_test_id("pane-switch")
        expect(switch).to_be_visible()
        _shot(page, "phone-empty")
        # An example prompt from the empty state sends at once and opens the new chat.
        page.get_by_role("button", name=f"Try: {PLATE}").click()
        page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
        expect(page.get_by_test_id("user-bubble")).to_contain_text("four 4 mm holes", timeout=30_000)
        _wait_completed(page, 1)
        _shot(page, "phone-thread")
        expect(page.get_by_test_id("model-viewer")).to_be_hidden()

        switch.get_by_role("radio", name="Preview").click()
        viewer = page.get_by_test_id("model-viewer")
        expect(viewer).to_contain_text(PLATE_DIMS)
        _canvas_shows_a_part(page)
        _shot(page, "phone-preview")

        switch.get_by_role("radio", name="Chats").click()
        expect(page.get_by_test_id("chat-row")).to_have_count(1)
        expect(page.get_by_label("Prompt")).to_be_hidden()
        _shot(page, "phone-chats")

        # The theme toggle persists across a reload.
        html = page.locator("html")
        before = html.get_attribute("class") or ""
        page.get_by_role("button", name="Toggle light and dark theme").click()
        expect(html).not_to_have_class(before, timeout=5_000)
        after = html.get_attribute("class") or ""
        page.reload()
        expect(page.get_by_test_id("pane-switch")).to_be_visible(timeout=30_000)
        expect(html).to_have_class(after)
        _shot(page, "phone-toggled-theme")
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_workspace_phone_dark.png"), full_page=True)
        context.close()

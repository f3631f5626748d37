"""CAD power features in the browser: a parameter slider previews the offline plate (Keep stores it as a
version, Discard goes back), measuring between two corners reads its length, an edited program with an error shows the error and keeps the version, versions
with thumbnails (and the chat's current one in the contexts pane), a share link with a title and an expiry
works signed out, says when it has expired, and stops when revoked; the section plane."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.support.live_page import sign_in

PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"
RUN_TIMEOUT = 90_000
PASSWORD = "a-long-test-password"


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"cad-{name}.png"))


def _sign_up(page: Page, app) -> str:
    """Register, confirm the mailed link, sign in (tests.support.mailbox.sign_up)."""
    from tests.support.mailbox import sign_up

    email = f"cad-{uuid.uuid4().hex[:8]}@example.com"
    sign_up(page, app, email, "Cad", PASSWORD)
    return email


def _expire_share(database_url: str, title: str) -> None:
    """Move a link's expiry into the past, as time would."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE shares SET expires_at = now() - interval '1 minute' WHERE title = :t"), {"t": title})
    finally:
        engine.dispose()


def _measure(page: Page, a_mm: list[float], b_mm: list[float]) -> str:
    """Click two model points (mm) on the canvas with real mouse clicks; returns the readout text."""
    viewer = page.get_by_test_id("model-viewer")
    canvas = viewer.locator("canvas")
    box = canvas.bounding_box()
    readout = page.get_by_test_id("measure-readout")
    for target in (a_mm, b_mm):
        # Aim a few pixels inside the plate (towards its centre): the ray hits the top face, the pick snaps
        # to the corner of the hit triangle.
        sx, sy = page.evaluate("(p) => { const s = window.chat3dViewer.screenOf(p); return [s.x, s.y]; }", target)
        cx, cy = page.evaluate("() => { const s = window.chat3dViewer.screenOf([0, 0, 5]); return [s.x, s.y]; }")
        dx, dy = cx - sx, cy - sy
        norm = max((dx * dx + dy * dy) ** 0.5, 1)
        page.mouse.click(box["x"] + sx + 4 * dx / norm, box["y"] + sy + 4 * dy / norm)
        page.wait_for_timeout(250)
    expect(readout).to_contain_text("mm", timeout=5_000)
    return readout.inner_text()


def test_cad_tools(running_app, page: Page, browser) -> None:
    base = running_app.url
    email = _sign_up(page, running_app)
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=f"Try: {PLATE}").click()  # creates the chat and sends at once
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
    expect(page.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))).to_have_count(1, timeout=RUN_TIMEOUT)

    viewer = page.get_by_test_id("model-viewer")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    overlay = page.get_by_test_id("dims-overlay")
    expect(overlay).to_have_text("80.0 × 50.0 × 5.0 mm")
    # The contexts pane shows the chat's current version as a thumbnail (the owner's PNG, loaded).
    chat_thumb = page.get_by_test_id("chat-row").first.get_by_test_id("chat-thumb")
    expect(chat_thumb).to_be_visible(timeout=30_000)
    expect(chat_thumb).to_have_attribute("src", re.compile(r"^/api/files/[0-9a-f-]{36}$"))
    expect(chat_thumb).to_have_js_property("complete", True)
    assert chat_thumb.evaluate("img => img.naturalWidth") > 0
    first_thumb = chat_thumb.get_attribute("src")
    page.get_by_test_id("chat-row").first.screenshot(path=str(ARTIFACTS / "cad-contexts-row.png"))
    panel = page.get_by_test_id("parameters-panel")
    expect(panel.get_by_test_id("param-row")).to_have_count(7)  # with the plate's corner radius and edge fillet
    _shot(page, "parameters")

    # A slider change (keyboard: PageUp = ten steps of 1 mm) previews at once without a model call: the
    # viewer, its overlay and the size above the sliders show 90 mm, but nothing is stored yet.
    length_row = panel.get_by_test_id("param-row").filter(has_text="length").first
    thumb = length_row.get_by_role("slider")
    thumb.focus()
    thumb.press("PageUp")
    expect(overlay).to_have_text("90.0 × 50.0 × 5.0 mm", timeout=60_000)
    expect(page.get_by_test_id("param-dims")).to_have_text("90.0 × 50.0 × 5.0 mm")
    expect(panel.get_by_test_id("param-preview")).to_contain_text("Preview, not saved")
    expect(length_row.get_by_role("spinbutton")).to_have_value("90.0")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    _shot(page, "slider-preview")
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(1)
    expect(chat_thumb).to_have_attribute("src", first_thumb)
    # Keeping it stores that render as version 2, the current one.
    panel.get_by_role("button", name="Keep as new version").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble").nth(1)).to_contain_text("You set length to 90.0 mm.")
    expect(panel.get_by_test_id("param-preview")).to_have_count(0)
    expect(page.get_by_test_id("model-dims")).to_have_text("90.0 × 50.0 × 5.0 mm")
    expect(page.get_by_test_id("model-viewer").get_by_text("edited by you", exact=True)).to_be_visible()
    expect(length_row.get_by_role("spinbutton")).to_have_value("90.0")
    # The new version is the current one: its thumbnail replaces the old one in the contexts pane, live.
    expect(chat_thumb).not_to_have_attribute("src", first_thumb, timeout=15_000)
    _shot(page, "slider-changed")

    # A number field previews with Enter; Discard goes back to the stored version.
    width_box = panel.get_by_test_id("param-row").filter(has_text="width").first.get_by_role("spinbutton")
    width_box.fill("30")
    width_box.press("Enter")
    expect(overlay).to_have_text("90.0 × 30.0 × 5.0 mm", timeout=60_000)
    panel.get_by_role("button", name="Discard").click()
    expect(overlay).to_have_text("90.0 × 50.0 × 5.0 mm", timeout=30_000)
    expect(panel.get_by_test_id("param-preview")).to_have_count(0)
    expect(width_box).to_have_value("50.0")
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2)
    # Leaving a number field previews too; two changes in a row render the newest values; keep → version 3.
    width_box = panel.get_by_test_id("param-row").filter(has_text="width").first.get_by_role("spinbutton")
    width_box.fill("45")
    width_box.press("Enter")
    width_box = panel.get_by_test_id("param-row").filter(has_text="width").first.get_by_role("spinbutton")
    width_box.fill("40")
    width_box.blur()
    expect(overlay).to_have_text("90.0 × 40.0 × 5.0 mm", timeout=60_000)
    expect(panel.get_by_test_id("param-preview")).to_be_visible()
    panel.get_by_role("button", name="Keep as new version").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(3, timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble").nth(2)).to_contain_text("You set width to 40.0 mm.")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)

    # Dragging a slider previews while the pointer is still down (debounced), not only on release.
    thickness = panel.get_by_test_id("param-row").filter(has_text="thickness").first.get_by_role("slider")
    box = thickness.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 25, box["y"] + box["height"] / 2, steps=5)
    expect(overlay).not_to_have_text("90.0 × 40.0 × 5.0 mm", timeout=60_000)
    expect(panel.get_by_test_id("param-preview")).to_be_visible()
    page.mouse.up()
    panel.get_by_role("button", name="Discard").click()
    expect(overlay).to_have_text("90.0 × 40.0 × 5.0 mm", timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(3)
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)

    # Measure corner to corner along X in the top view: the plate's length, 90 mm.
    page.get_by_role("button", name="Top view").click()
    page.get_by_role("button", name="Measure", exact=True).click()
    page.wait_for_timeout(400)
    text = _measure(page, [-45, 20, 5], [45, 20, 5])
    _shot(page, "measure")
    found = re.search(r"([\d.]+) mm", text)
    assert found, text
    assert abs(float(found[1]) - 90.0) <= 0.5, text
    assert re.search(r"ΔX -?90\.\d\d", text) and "ΔY 0.00" in text and "ΔZ 0.00" in text, text
    # And across the width.
    text = _measure(page, [45, -20, 5], [45, 20, 5])
    assert abs(float(re.search(r"([\d.]+) mm", text)[1]) - 40.0) <= 0.5, text
    page.get_by_role("button", name="Measure", exact=True).click()

    # Section plane along X.
    page.get_by_role("button", name="Iso view").click()
    page.get_by_role("button", name="Section", exact=True).click()
    page.get_by_role("slider", name="Section position").fill("0.3")
    page.wait_for_timeout(300)
    _shot(page, "section")
    page.get_by_role("button", name="Section", exact=True).click()

    # The code editor: a broken program shows its error and stores nothing.
    page.get_by_role("tab", name="Code").click()
    editor = page.get_by_test_id("code-editor")
    code = editor.inner_text()  # a CodeMirror editor (its editable .cm-content), not a textarea
    assert "length = 90.0" in code
    editor.fill(code.replace("result = part.part", "result = part.prt"))
    page.get_by_role("button", name="Render").click()
    expect(page.get_by_test_id("code-error")).to_contain_text("prt", timeout=60_000)
    expect(page.get_by_test_id("code-error")).to_contain_text(re.compile(r"line \d+"))
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(3)
    _shot(page, "code-error")

    # Versions with thumbnails; share the newest.
    page.get_by_role("tab", name="Versions").click()
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Current")
    expect(rows.first.locator("img")).to_be_visible()
    page.wait_for_timeout(500)
    _shot(page, "versions")
    rows.nth(2).get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("version-compare")).to_contain_text("Version 1 → Version 3")
    expect(page.get_by_test_id("version-compare")).to_contain_text("length")
    # "Build on this" makes version 1 current: the contexts pane shows its thumbnail; version 3 again after.
    v1_thumb, v3_thumb = rows.nth(2).locator("img").get_attribute("src"), rows.first.locator("img").get_attribute("src")
    expect(chat_thumb).to_have_attribute("src", v3_thumb)
    rows.nth(2).get_by_role("button", name="Build on Version 1").click()
    expect(chat_thumb).to_have_attribute("src", v1_thumb, timeout=10_000)
    rows.first.get_by_role("button", name="Build on Version 3").click()
    expect(chat_thumb).to_have_attribute("src", v3_thumb, timeout=10_000)
    # Share with a title and a 7-day expiry.
    page.get_by_role("button", name="Share Version 3").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Share Version 3")).to_be_visible()
    dialog.get_by_label("Title").fill("x" * 10)
    dialog.get_by_role("radio", name="On a date").click()
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose the date the link expires.")  # a clear refusal
    dialog.get_by_label("Title").fill("Plate for Sam")
    dialog.get_by_role("radio", name="7 days").click()
    expect(dialog.get_by_role("alert")).to_have_count(0)
    _shot(page, "share-dialog")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_test_id("share-url")
    expect(link).to_have_value(re.compile(r"/share/[A-Za-z0-9_-]{20,}$"))
    url = link.input_value()
    share_row = dialog.get_by_test_id("share-row").filter(has_text="Version 3 · Plate for Sam")
    expect(share_row).to_contain_text("Expires in 7 days")
    expect(share_row).to_contain_text("active")
    _shot(page, "share-created")

    guest = browser.new_context(viewport={"width": 1100, "height": 800})
    gp = guest.new_page()
    try:
        gp.goto(url)
        expect(gp.get_by_test_id("share-title")).to_have_text("Plate for Sam", timeout=30_000)
        expect(gp.get_by_test_id("model-dims")).to_have_text("90.0 × 40.0 × 5.0 mm")
        expect(gp.get_by_test_id("model-viewer").locator("[data-status=ready]")).to_be_visible(timeout=60_000)
        expect(gp.get_by_role("link", name="Download STEP")).to_be_visible()
        body = gp.content()
        assert "80 x 50 x 5 mm plate" not in body and "Cad" not in gp.locator("body").inner_text()
        gp.screenshot(path=str(ARTIFACTS / "cad-share-page.png"))

        share_row.get_by_role("button", name="Revoke link Version 3 · Plate for Sam").click()
        expect(share_row).to_contain_text("revoked", timeout=10_000)
        expect(share_row.get_by_role("button")).to_have_count(0)
        gp.reload()
        expect(gp.get_by_test_id("share-missing")).to_be_visible(timeout=30_000)
        expect(gp.get_by_test_id("share-title")).to_have_count(0)

        # A second link, one day, then time passes: the page says it has expired; the owner sees "expired".
        dialog.get_by_role("button", name="Done").click()
        expect(dialog).to_be_hidden()
        page.get_by_role("button", name="Share Version 2").click()
        dialog.get_by_label("Title").fill("Soon gone")
        dialog.get_by_role("radio", name="1 day").click()
        dialog.get_by_role("button", name="Create link").click()
        expect(link).to_have_value(re.compile(r"/share/[A-Za-z0-9_-]{20,}$"))
        soon = link.input_value()
        expect(dialog.get_by_test_id("share-row").filter(has_text="Soon gone")).to_contain_text("Expires in 1 day")
        _expire_share(running_app.database_url, "Soon gone")
        gp.goto(soon)
        expect(gp.get_by_test_id("share-expired")).to_contain_text("This link has expired", timeout=30_000)
        gp.screenshot(path=str(ARTIFACTS / "cad-share-expired.png"))
        dialog.get_by_role("button", name="Done").click()
        page.get_by_role("tab", name="Details").click()
        page.get_by_role("tab", name="Versions").click()
        expect(page.get_by_test_id("versions-panel").get_by_test_id("share-row").filter(has_text="Soon gone")).to_contain_text(
            "expired", timeout=10_000)
    finally:
        guest.close()

    # The contexts pane and the share dialog on a phone in the dark theme.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
                                has_touch=True)
    pp = phone.new_page()
    try:
        sign_in(pp, base, email, PASSWORD, landing=re.compile(r"/chat/[0-9a-f-]{36}$"))
        switch = pp.get_by_test_id("pane-switch")
        switch.get_by_role("radio", name="Chats").click()
        phone_thumb = pp.get_by_test_id("chat-row").first.get_by_test_id("chat-thumb")
        expect(phone_thumb).to_be_visible(timeout=30_000)
        expect(phone_thumb).to_have_js_property("complete", True)
        pp.screenshot(path=str(ARTIFACTS / "cad-phone-dark-contexts.png"))
        switch.get_by_role("radio", name="Preview").click()
        pp.get_by_role("tab", name="Versions").click()
        pp.get_by_role("button", name="Share Version 3").click()
        pp.get_by_role("dialog").get_by_label("Title").fill("Phone link")
        pp.get_by_role("dialog").get_by_role("radio", name="On a date").click()
        expect(pp.get_by_label("Expiry date")).to_be_visible()
        pp.wait_for_timeout(300)
        box = pp.get_by_role("dialog").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # nothing pushes the dialog sideways
        pp.screenshot(path=str(ARTIFACTS / "cad-phone-dark-share-dialog.png"))
    finally:
        phone.close()

    # Fork from version 2: a new chat opens with the history up to that version and nothing after it.
    source_url = page.url
    page.get_by_role("tab", name="Versions").click()
    page.get_by_role("button", name="Fork from Version 2").click()
    page.wait_for_url(lambda u: re.search(r"/chat/[0-9a-f-]{36}$", u) is not None and u != source_url, timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=30_000)
    expect(page.get_by_test_id("assistant-bubble").nth(1)).to_contain_text("You set length to 90.0 mm.")
    expect(page.get_by_text("You set width to 40.0 mm.")).to_have_count(0)
    expect(page.get_by_test_id("chat-row")).to_have_count(2)
    page.get_by_role("tab", name="Preview").click()
    expect(page.get_by_test_id("model-dims")).to_have_text("90.0 × 50.0 × 5.0 mm", timeout=30_000)
    _shot(page, "forked")

"""Import in the browser: a wrong file is refused with a clear message (nothing created), a real STL starts a
new chat showing the part and its dimensions in the viewer, and a follow-up prompt edits around it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_workspace import _canvas_shows_a_part, _sign_up, _wait_completed
from tests.support.cad_files import block_files

BLOCK_DIMS = "60.0 × 30.0 × 12.0 mm"


def _dialog_input(page: Page):
    return page.get_by_role("dialog").locator("input[type=file]")


def test_import_stl_starts_a_chat_with_the_part(running_app, page: Page) -> None:
    _sign_up(page, running_app, "Importer")

    page.get_by_role("button", name="Import STEP/STL").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("STEP (.step, .stp) or STL, up to 20 MB")

    # Not a CAD file, whatever its name says: refused, no chat made.
    _dialog_input(page).set_input_files({"name": "part.step", "mimeType": "application/octet-stream",
                                         "buffer": b"%PDF-1.7 this is a PDF, not a STEP file"})
    expect(dialog.get_by_role("alert")).to_contain_text("Only STEP (.step, .stp) and STL files can be imported",
                                                        timeout=30_000)
    expect(page.get_by_test_id("chat-row")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import-refused.png"))

    # A real binary STL: a new chat opens on the imported part.
    _dialog_input(page).set_input_files({"name": "block.stl", "mimeType": "model/stl", "buffer": block_files()["stl"]})
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=60_000)
    chat_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator(f'[data-chat-id="{chat_id}"]')).to_be_visible(timeout=30_000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_test_id("user-bubble")).to_contain_text("Imported block.stl")
    answer = page.get_by_test_id("assistant-bubble").first
    expect(answer).to_contain_text(BLOCK_DIMS)
    # The imported part has no request behind it: it can be rated, but Regenerate is not offered.
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    expect(answer.get_by_role("button", name="Regenerate", exact=True)).to_have_count(0)
    expect(answer.get_by_role("button", name="Regenerate with another code model")).to_have_count(0)
    viewer = page.get_by_test_id("model-viewer")
    expect(viewer).to_contain_text(BLOCK_DIMS, timeout=30_000)
    _canvas_shows_a_part(page)
    expect(page.get_by_test_id("chat-row").first).to_contain_text("block")
    page.screenshot(path=str(ARTIFACTS / "import-stl.png"))

    # A follow-up (offline model) edits around the imported part: same outer size, a new version.
    prompt = page.get_by_label("Prompt")
    prompt.fill("make it 8 mm taller")
    prompt.press("Enter")
    _wait_completed(page, 1)
    expect(page.get_by_test_id("assistant-bubble").last).to_contain_text("60.0 × 30.0 × 20.0 mm")
    follow_up = page.get_by_test_id("assistant-bubble").last
    expect(follow_up.get_by_role("button", name="Regenerate", exact=True)).to_be_visible()  # it has a request
    expect(viewer).to_contain_text("60.0 × 30.0 × 20.0 mm", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "import-stl-taller.png"))

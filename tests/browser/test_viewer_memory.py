"""Swapping the shown model does not leak (issue 25): after a version is shown, switching between two versions
50 times leaves three.js's GPU counts (`renderer.info.memory`: geometries, textures) where they were with one
model, and the page's JS heap after a forced collection within 10 % of its one-model size. A leaked model
(its GLB's geometries, materials, edge lines) would add to both at every swap."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_viewer_tools import _open_plate, _tools

SWAPS = 50


def _heap(cdp) -> int:
    """Bytes of JS heap in use after a full garbage collection."""
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.collectGarbage")
    return cdp.send("Runtime.getHeapUsage")["usedSize"]


def _show(page: Page, bubble, dims: str) -> None:
    """Show that answer's version in the viewer (its "Show model" button) and wait until it is drawn."""
    bubble.get_by_role("button", name="Show model").click()
    expect(page.get_by_test_id("dims-overlay")).to_have_text(dims, timeout=30_000)
    expect(page.get_by_test_id("model-viewer").locator("[data-status=ready]")).to_be_visible(timeout=30_000)


def test_swapping_models_frees_what_the_old_one_held(running_app, page: Page) -> None:
    _open_plate(page, running_app)
    panel = page.get_by_test_id("parameters-panel")
    slider = panel.get_by_role("slider", name="length (mm)")
    slider.focus()
    slider.press("ArrowRight")
    expect(page.get_by_test_id("dims-overlay")).to_have_text("81.0 × 50.0 × 5.0 mm", timeout=60_000)
    panel.get_by_role("button", name="Keep as new version").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=30_000)
    bubbles = page.get_by_test_id("assistant-bubble")
    older, newer = bubbles.nth(0), bubbles.nth(1)
    dims = {newer: "81.0 × 50.0 × 5.0 mm", older: "80.0 × 50.0 × 5.0 mm"}

    # One model shown (and one swap behind it, so both versions' files have been fetched once).
    _show(page, older, dims[older])
    _show(page, newer, dims[newer])
    page.wait_for_timeout(300)
    cdp = page.context.new_cdp_session(page)
    one_memory = _tools(page)["memory"]
    one_heap = _heap(cdp)
    assert one_memory["geometries"] > 0, one_memory

    for i in range(SWAPS):
        bubble = older if i % 2 == 0 else newer
        _show(page, bubble, dims[bubble])
    page.wait_for_timeout(300)  # the replaced model's effects have run

    memory = _tools(page)["memory"]
    heap = _heap(cdp)
    assert memory == one_memory, (memory, one_memory, heap, one_heap)
    assert heap <= one_heap * 1.10, (heap, one_heap)

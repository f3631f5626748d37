"""Viewer tools as a user sees them, checked on the rendered canvas (swiftshader): the section plane along X,
Y and Z clips the model as its slider sweeps through the part and switching it off restores the model; the
edges toggle draws and removes the edge lines; a two-solid program shows a part list with one colour per
solid, and hiding a part takes it off the canvas until it is shown again.

Pixels are read from the WebGL canvas itself (it keeps its drawing buffer) with the grid off, so every opaque
pixel is the model or its edges; `window.chat3dViewer.tools()` (read-only, assets/chat3d_viewer.jsx) says what
the tools set on the scene and counts frames, so a read waits for the redraw instead of sleeping."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS

PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"
RUN_TIMEOUT = 90_000
# Two separate bodies: a 40 x 40 x 4 plate centred on the origin and a Ø10 x 20 post standing beside it.
TWO_SOLIDS = """from build123d import *
plate = Box(40, 40, 4)
post = Pos(40, 0, 10) * Cylinder(5, 20)
result = Compound(children=[plate, post])
"""

# Counts the canvas's opaque pixels by kind: `dark` is the edge colour (#1b2433), `warm`/`cool` the hue of the
# lit part colours (part 1 #7f9cc4 is blue, part 2 #d9895b orange). Optional `at` probes one CSS-pixel point.
COUNT_JS = """([at]) => {
  const src = document.querySelector('[data-testid=model-viewer] canvas');
  const w = src.width, h = src.height, k = w / src.clientWidth;
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const ctx = c.getContext('2d'); ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(0, 0, w, h).data;
  let solid = 0, dark = 0, warm = 0, cool = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    solid++;
    const r = d[i], g = d[i + 1], b = d[i + 2];
    if (Math.max(r, g, b) < 70) dark++;
    else if (r > b + 25) warm++;
    else if (b > r + 15) cool++;
  }
  const probe = (at || []).map(([x, y]) => {
    const j = (Math.round(y * k) * w + Math.round(x * k)) * 4;
    return [d[j], d[j + 1], d[j + 2], d[j + 3]];
  });
  return { solid, dark, warm, cool, probe };
}"""


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_test_id("model-viewer").screenshot(path=str(ARTIFACTS / f"viewer-{name}.png"))


def _tools(page: Page) -> dict:
    return page.evaluate("() => window.chat3dViewer.tools()")


def _redrawn(page: Page, since: int) -> None:
    """Wait until the canvas has drawn a frame after `since`, then one more browser frame."""
    deadline = time.monotonic() + 10
    while _tools(page)["frames"] <= since:
        assert time.monotonic() < deadline, "the viewer did not redraw"
        page.wait_for_timeout(30)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _after(page: Page, action) -> dict:
    """Do `action`, wait for the redraw, return the pixel counts."""
    before = _tools(page)["frames"]
    action()
    _redrawn(page, before)
    return _pixels(page)


def _pixels(page: Page, at: list[list[float]] | None = None) -> dict:
    return page.evaluate(COUNT_JS, [at])


def _screen(page: Page, mm: list[float]) -> list[float]:
    return page.evaluate("(p) => { const s = window.chat3dViewer.screenOf(p); return [s.x, s.y]; }", mm)


def _click_model(page: Page, mm: list[float]) -> None:
    box = page.get_by_test_id("model-viewer").locator("canvas").bounding_box()
    x, y = _screen(page, mm)
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_timeout(250)


PROMPT = "Pick two points on the model (corners snap)"


def _open_plate(page: Page, app) -> None:
    from tests.support.mailbox import sign_up

    sign_up(page, app, f"viewer-{uuid.uuid4().hex[:8]}@example.com", "Viewer", "a-long-test-password")
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=f"Try: {PLATE}").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
    expect(page.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))).to_have_count(1, timeout=RUN_TIMEOUT)
    expect(page.get_by_test_id("model-viewer").locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("dims-overlay")).to_have_text("80.0 × 50.0 × 5.0 mm")


def _view(page: Page, name: str) -> dict:
    return _after(page, lambda: page.get_by_role("button", name=f"{name} view").click())


def _grid_off(page: Page) -> None:
    grid = page.get_by_role("button", name="Grid", exact=True)
    _after(page, grid.click)
    expect(grid).to_have_attribute("aria-pressed", "false")


def test_section_plane_and_edges(running_app, page: Page) -> None:
    _open_plate(page, running_app)
    _grid_off(page)
    viewer = page.get_by_test_id("model-viewer")
    full = _view(page, "Top")
    assert full["solid"] > 20_000, full  # the plate fills a good part of the canvas
    assert _tools(page)["clipping"] == []

    section = page.get_by_role("button", name="Section", exact=True)
    slider = page.get_by_role("slider", name="Section position")

    def at(pos: float) -> dict:
        return _after(page, lambda: slider.fill(str(pos)))

    # Per axis: the view that looks across it, the clipping normal three applies (model X -> world +x, model Y
    # -> world -z, model Z -> world +y; the kept side is below the slider), a point kept and one cut at 0.5.
    axes = [
        ("X", "Top", [-1, 0, 0], [-25, 0, 5], [25, 0, 5]),
        ("Y", "Top", [0, 0, 1], [0, -15, 5], [0, 15, 5]),
        ("Z", "Front", [0, -1, 0], [0, -25, 1], [0, -25, 4]),
    ]
    for i, (axis, view, normal, kept, cut) in enumerate(axes):
        whole = _view(page, view)
        _after(page, section.click)
        expect(section).to_have_attribute("aria-pressed", "true")
        if i:
            expect(slider).to_have_value("0.25")  # the slider keeps its place while the section is off
        _after(page, page.get_by_role("button", name=f"Section along {axis}").click)
        expect(page.get_by_role("button", name=f"Section along {axis}")).to_have_attribute("aria-pressed", "true")
        counts = {pos: at(pos) for pos in (1.0, 0.75, 0.5, 0.25, 0.0)}
        planes = _tools(page)["clipping"]
        assert len(planes) == 1 and [round(v, 6) for v in planes[0]["normal"]] == normal, (axis, planes)
        # Sweeping the plane down through the part leaves less and less of it, roughly in proportion.
        ratio = {pos: counts[pos]["solid"] / whole["solid"] for pos in counts}
        assert ratio[1.0] > 0.9, (axis, ratio)
        assert ratio[1.0] > ratio[0.75] > ratio[0.5] > ratio[0.25] > ratio[0.0], (axis, ratio)
        assert ratio[0.0] < 0.02, (axis, ratio)
        for pos in (0.75, 0.5, 0.25):
            assert abs(ratio[pos] - pos) < 0.15, (axis, ratio)
        # At 0.5 the lower half stays on screen and the upper half is gone.
        at(0.5)
        probe = _pixels(page, [_screen(page, kept), _screen(page, cut)])["probe"]
        assert probe[0][3] > 200 and probe[1][3] < 50, (axis, probe)
        _shot(page, f"section-{axis.lower()}")
        # The constant moves with the slider.
        c_half = _tools(page)["clipping"][0]["constant"]
        at(0.25)
        assert _tools(page)["clipping"][0]["constant"] != c_half
        # Off: the whole model is back, nothing clips.
        restored = _after(page, section.click)
        expect(section).to_have_attribute("aria-pressed", "false")
        expect(page.get_by_role("group", name="Section plane")).to_have_count(0)
        assert _tools(page)["clipping"] == []
        assert abs(restored["solid"] - whole["solid"]) <= 0.01 * whole["solid"], (axis, restored, whole)
    _shot(page, "section-off")

    # Measuring picks only what is drawn: with the plate cut away entirely, clicks on its place pick nothing;
    # with the plane at the top, the same click picks a point.
    measure, readout = page.get_by_role("button", name="Measure", exact=True), page.get_by_test_id("measure-readout")
    _view(page, "Top")
    _after(page, section.click)
    _after(page, page.get_by_role("button", name="Section along Z").click)
    at(0.0)
    measure.click()
    expect(readout).to_have_text(PROMPT)
    for _ in range(2):
        _click_model(page, [10, 5, 5])
    expect(readout).to_have_text(PROMPT)
    at(1.0)
    _click_model(page, [10, 5, 5])
    expect(readout).to_have_text("Pick the second point")
    measure.click()
    _after(page, section.click)
    assert _tools(page)["clipping"] == []

    # Edges: on by default; off removes the dark edge lines from the canvas, on brings them back.
    edges = page.get_by_role("button", name="Edges", exact=True)
    with_edges = _view(page, "Iso")
    expect(edges).to_have_attribute("aria-pressed", "true")
    assert _tools(page)["edges"] is True
    without = _after(page, edges.click)
    expect(edges).to_have_attribute("aria-pressed", "false")
    assert _tools(page)["edges"] is False
    assert with_edges["dark"] > 300 and without["dark"] < with_edges["dark"] * 0.25, (with_edges, without)
    assert abs(without["solid"] - with_edges["solid"]) < 0.05 * with_edges["solid"]  # same model, no lines
    _shot(page, "edges-off")
    again = _after(page, edges.click)
    assert _tools(page)["edges"] is True and abs(again["dark"] - with_edges["dark"]) <= 0.05 * with_edges["dark"]
    _shot(page, "edges-on")
    assert viewer.locator("[data-status=ready]").count() == 1


def test_part_list_show_hide(running_app, page: Page) -> None:
    _open_plate(page, running_app)
    viewer = page.get_by_test_id("model-viewer")
    expect(viewer.get_by_test_id("part-list")).to_have_count(0)  # one solid: no part list

    # Edit the program into two solids and render it as a new version.
    page.get_by_role("tab", name="Code").click()
    page.get_by_test_id("code-editor").fill(TWO_SOLIDS)
    page.get_by_role("button", name="Render").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=60_000)
    page.get_by_role("tab", name="Preview").click()
    expect(page.get_by_test_id("dims-overlay")).to_have_text("65.0 × 40.0 × 22.0 mm", timeout=60_000)
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)

    parts = viewer.get_by_test_id("part-list")
    expect(parts).to_be_visible()
    rows = parts.locator("label")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_text("Part 1")
    expect(rows.nth(1)).to_have_text("Part 2")
    swatches = [rows.nth(i).locator("span").evaluate("s => getComputedStyle(s).backgroundColor") for i in range(2)]
    assert swatches[0] != swatches[1], swatches
    state = _tools(page)["parts"]
    assert [p["key"] for p in state] == ["solid_1", "solid_2"] and all(p["visible"] for p in state), state
    assert state[0]["color"] != state[1]["color"]

    _grid_off(page)
    shown = _view(page, "Front")
    post, plate = [40, 0, 15], [-10, 0, 0]
    probe = _pixels(page, [_screen(page, post), _screen(page, plate)])["probe"]
    # The plate (solid_1) is drawn blue, the post (solid_2) orange: the canvas shows each part's own colour.
    assert probe[0][3] > 200 and probe[0][0] > probe[0][2] + 25, probe
    assert probe[1][3] > 200 and probe[1][2] > probe[1][0] + 15, probe
    assert shown["warm"] > 2_000 and shown["cool"] > 2_000, shown
    _shot(page, "parts-both")

    show_post = parts.get_by_role("checkbox", name="Show Part 2")
    expect(show_post).to_be_checked()
    hidden = _after(page, show_post.click)
    expect(show_post).not_to_be_checked()
    assert [p["visible"] for p in _tools(page)["parts"]] == [True, False]
    assert hidden["warm"] < 0.02 * shown["warm"], (shown, hidden)  # the post is gone from the canvas
    assert abs(hidden["cool"] - shown["cool"]) < 0.1 * shown["cool"], (shown, hidden)  # the plate is not
    probe = _pixels(page, [_screen(page, post), _screen(page, plate)])["probe"]
    assert probe[0][3] < 50 and probe[1][3] > 200, probe
    expect(rows).to_have_count(2)  # a hidden part stays in the list, to show it again
    _shot(page, "parts-post-hidden")
    # A hidden part cannot be picked for measuring.
    measure, readout = page.get_by_role("button", name="Measure", exact=True), page.get_by_test_id("measure-readout")
    measure.click()
    for _ in range(2):
        _click_model(page, post)
    expect(readout).to_have_text(PROMPT)
    measure.click()

    back = _after(page, show_post.click)
    expect(show_post).to_be_checked()
    measure.click()
    _click_model(page, post)
    expect(readout).to_have_text("Pick the second point")  # shown again, it picks
    measure.click()
    assert all(p["visible"] for p in _tools(page)["parts"])
    assert abs(back["warm"] - shown["warm"]) <= 0.02 * shown["warm"], (shown, back)
    assert abs(back["solid"] - shown["solid"]) <= 0.01 * shown["solid"], (shown, back)

    # Hiding the other one works the same way.
    show_plate = parts.get_by_role("checkbox", name="Show Part 1")
    no_plate = _after(page, show_plate.click)
    assert [p["visible"] for p in _tools(page)["parts"]] == [False, True]
    assert no_plate["cool"] < 0.02 * shown["cool"] and no_plate["warm"] > 0.9 * shown["warm"], (shown, no_plate)
    _shot(page, "parts-plate-hidden")
    _after(page, show_plate.click)

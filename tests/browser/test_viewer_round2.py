"""Viewer and editor, round 2 (issue 26 items 8, 11, 12 and the code editor of 13), in the running app:

- sliders: a window around the value in fine steps across the panel, keyboard arrows, names with the unit;
  a preview keeps the camera and the shown part (same canvas, never "Loading model…") until the new one is
  there;
- an inch chat: the viewer's size overlay, grid legend and measure readout, the sizes and the parameters
  (slider, number field, unit) speak inches, and an inch typed in is rendered as 25.4 mm;
- an imported STL draws its feature edges, about as many as the same block imported from STEP, not one line
  per triangle;
- the Code tab is a code editor: line numbers, Python highlighting, the error's line marked, Render works.

Desktop light and phone dark (390 px); screenshots in test-artifacts/viewer2-*.png.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_viewer_tools import PLATE, RUN_TIMEOUT, _after, _grid_off, _open_plate, _pixels, _tools, _view
from tests.support.cad_files import block_files

PASSWORD = "a-long-test-password"

# Samples every animation frame: each data-status the viewer shows, whether its canvas is still the first
# one, and whether "Loading model…" ever appears. A remounted viewer fails all three.
RECORD_JS = """() => {
  const root = document.querySelector('[data-testid=model-viewer]');
  const canvas = root.querySelector('canvas');
  const rec = { statuses: [], sameCanvas: true, loadingText: false, stop: false };
  window.__viewerRecord = rec;
  const tick = () => {
    const el = root.querySelector('[data-status]');
    const s = el ? el.dataset.status : 'none';
    if (rec.statuses[rec.statuses.length - 1] !== s) rec.statuses.push(s);
    if (root.querySelector('canvas') !== canvas) rec.sameCanvas = false;
    if (root.textContent.includes('Loading model')) rec.loadingText = true;
    if (!rec.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def _shot(page: Page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"viewer2-{name}.png"), full_page=full_page)


def _record(page: Page) -> None:
    page.evaluate(RECORD_JS)


def _recorded(page: Page) -> dict:
    return page.evaluate("() => { window.__viewerRecord.stop = true; return window.__viewerRecord; }")


def _close(a: list[float], b: list[float], tol: float = 1e-6) -> bool:
    return all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))


def _measure(page: Page, a_mm: list[float], b_mm: list[float], unit: str) -> str:
    """Click two model points (mm) a few pixels inside the plate (the pick snaps to the corner); the readout."""
    viewer = page.get_by_test_id("model-viewer")
    box = viewer.locator("canvas").bounding_box()
    centre = page.evaluate("() => { const s = window.chat3dViewer.screenOf([0, 0, 5]); return [s.x, s.y]; }")
    for target in (a_mm, b_mm):
        sx, sy = page.evaluate("(p) => { const s = window.chat3dViewer.screenOf(p); return [s.x, s.y]; }", target)
        dx, dy = centre[0] - sx, centre[1] - sy
        norm = max((dx * dx + dy * dy) ** 0.5, 1)
        page.mouse.click(box["x"] + sx + 4 * dx / norm, box["y"] + sy + 4 * dy / norm)
        page.wait_for_timeout(250)
    readout = page.get_by_test_id("measure-readout")
    expect(readout).to_contain_text(f" {unit}", timeout=5_000)
    return readout.inner_text()


def _slider_range(slider) -> tuple[float, float, float]:
    return tuple(float(slider.get_attribute(a)) for a in ("aria-valuemin", "aria-valuenow", "aria-valuemax"))


def test_slider_preview_keeps_camera_and_part(running_app, page: Page) -> None:
    _open_plate(page, running_app)
    panel = page.get_by_test_id("parameters-panel")
    overlay = page.get_by_test_id("dims-overlay")
    viewer = page.get_by_test_id("model-viewer")

    # Named with its unit; a window around 80 mm, not 1..1000; the slider spans the panel.
    slider = panel.get_by_role("slider", name="length (mm)")
    expect(slider).to_be_visible()
    lo, now, hi = _slider_range(slider)
    assert now == 80 and lo < 80 < hi and hi - lo <= 200, (lo, now, hi)
    expect(panel.get_by_role("spinbutton", name="length (mm) value")).to_have_value("80.0")
    track = panel.locator("[data-param=length]").bounding_box()
    assert track["width"] >= 250, track
    assert track["width"] / (hi - lo) >= 2, (track, lo, hi)  # at least 2 px per millimetre
    _shot(page, "sliders-desktop-light")

    # Turn the camera away from any preset: Top, then an orbit drag on the canvas.
    _view(page, "Top")
    box = viewer.locator("canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = _tools(page)["frames"]
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 25, steps=6)
    page.mouse.up()
    deadline = 50
    while _tools(page)["frames"] <= before and deadline:
        page.wait_for_timeout(30)
        deadline -= 1
    camera, target = _tools(page)["camera"], _tools(page)["target"]

    # One arrow key: one fine step (1 mm) previews 81 mm without a model call; the shown part stays until the
    # new one has loaded (the same canvas, never "Loading model…") and the camera stays where it was.
    _record(page)
    slider.focus()
    slider.press("ArrowRight")
    expect(overlay).to_have_text("81.0 × 50.0 × 5.0 mm", timeout=60_000)
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    expect(panel.get_by_role("spinbutton", name="length (mm) value")).to_have_value("81.0")
    rec = _recorded(page)
    assert rec["sameCanvas"] and not rec["loadingText"] and "loading" not in rec["statuses"], rec
    assert _close(_tools(page)["camera"], camera) and _close(_tools(page)["target"], target), (_tools(page), camera)
    assert _pixels(page)["solid"] > 5_000  # the part is drawn
    _shot(page, "slider-arrow-preview")

    # Page Down: ten steps back (71 mm); still the same view. The window did not move under the thumb.
    _record(page)
    slider.press("PageDown")
    expect(overlay).to_have_text("71.0 × 50.0 × 5.0 mm", timeout=60_000)
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    rec = _recorded(page)
    assert rec["sameCanvas"] and not rec["loadingText"] and "loading" not in rec["statuses"], rec
    assert _close(_tools(page)["camera"], camera), (_tools(page)["camera"], camera)
    assert _slider_range(slider) == (lo, 71, hi)

    # Fit still refits on request.
    _after(page, page.get_by_role("button", name="Fit model to view").click)
    assert not _close(_tools(page)["camera"], camera)
    page.get_by_role("button", name="Discard").click()
    expect(overlay).to_have_text("80.0 × 50.0 × 5.0 mm", timeout=60_000)


def _phone_dark(browser):
    return browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True,
                               has_touch=True)


def test_inch_chat_viewer_and_parameters_phone_dark(running_app, browser) -> None:
    from tests.support.mailbox import sign_up

    context = _phone_dark(browser)
    page = context.new_page()
    try:
        sign_up(page, running_app, f"inch-{uuid.uuid4().hex[:8]}@example.com", "Inch", PASSWORD)
        expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name=f"Try: {PLATE}").click()
        page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
        chips = page.get_by_test_id("progress-chip")
        expect(chips.filter(has_text=re.compile(r"^Completed$"))).to_have_count(1, timeout=RUN_TIMEOUT)

        # The chat's units: inches.
        page.get_by_role("combobox", name="Units").click()
        page.get_by_role("option", name="in", exact=True).click()
        page.keyboard.press("Escape")  # the picker's tooltip (opened by the focus coming back) covers the pane switch
        expect(page.locator("[data-radix-popper-content-wrapper]")).to_have_count(0)
        expect(page.get_by_test_id("assistant-bubble").first).to_contain_text("3.15 × 1.97 × 0.20 in", timeout=15_000)

        page.get_by_test_id("pane-switch").get_by_role("radio", name="Preview").click()
        viewer = page.get_by_test_id("model-viewer")
        expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
        overlay = page.get_by_test_id("dims-overlay")
        expect(overlay).to_have_text("3.15 × 1.97 × 0.20 in")
        expect(page.get_by_test_id("model-dims")).to_have_text("3.15 × 1.97 × 0.20 in (80.0 × 50.0 × 5.0 mm)")
        expect(viewer.get_by_text("Grid: 0.1 in cells, 1 in sections")).to_be_visible()
        assert abs(_tools(page)["gridCellMm"] - 2.54) < 1e-9  # the grid's cells are 0.1 in on the model

        panel = page.get_by_test_id("parameters-panel")
        slider = panel.get_by_role("slider", name="length (in)")
        lo, now, hi = _slider_range(slider)
        assert abs(now - 80 / 25.4) < 1e-6 and lo < now < hi and hi - lo <= 8, (lo, now, hi)
        field = panel.get_by_role("spinbutton", name="length (in) value")
        expect(field).to_have_value("3.150")
        row = panel.get_by_test_id("param-row").filter(has=page.get_by_role("spinbutton", name="length (in) value"))
        expect(row).to_contain_text("in")
        track = panel.locator("[data-param=length]").bounding_box()
        assert track["width"] >= 250, track  # the slider has the phone's width, not 60 px
        panel.scroll_into_view_if_needed()
        _shot(page, "inch-parameters-phone-dark", full_page=True)

        # Measuring reads inches: the 80 mm edge is 3.150 in.
        page.get_by_role("button", name="Top view").click()
        page.get_by_role("button", name="Measure", exact=True).click()
        text = _measure(page, [-40, -25, 5], [40, -25, 5], "in")
        assert text.startswith("3.150 in"), text
        assert "mm" not in text, text
        _shot(page, "inch-measure-phone-dark")
        page.get_by_role("button", name="Measure", exact=True).click()

        # 4 inches typed in render 101.6 mm.
        field.fill("4")
        field.press("Enter")
        expect(overlay).to_have_text("4.00 × 1.97 × 0.20 in", timeout=60_000)
        expect(page.get_by_test_id("param-dims")).to_have_text("4.00 × 1.97 × 0.20 in (101.6 × 50.0 × 5.0 mm)")
        expect(slider).to_have_attribute("aria-valuenow", "4")
        _shot(page, "inch-preview-phone-dark")
        panel.get_by_role("button", name="Discard").click()
        expect(overlay).to_have_text("3.15 × 1.97 × 0.20 in", timeout=60_000)

        # The code editor on a phone, dark: line numbers and a dark editor.
        page.get_by_role("tab", name="Code").click()
        editor = page.get_by_test_id("code-editor")
        expect(editor).to_be_visible()
        expect(page.locator(".cm-lineNumbers .cm-gutterElement", has_text=re.compile(r"^1$"))).to_have_count(1)
        bg = page.locator(".cm-editor").evaluate("e => getComputedStyle(e).backgroundColor")
        rgb = [int(v) for v in re.findall(r"\d+", bg)[:3]]
        assert sum(rgb) < 3 * 90, bg  # a dark editor in the dark theme
        width = page.evaluate("() => document.documentElement.scrollWidth")
        editor_box = page.locator(".cm-editor").bounding_box()
        assert editor_box["x"] >= 0 and editor_box["x"] + editor_box["width"] <= max(width, 390) + 1, editor_box
        _shot(page, "code-editor-phone-dark")
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_inch_chat_viewer_and_parameters_phone_dark.png"), full_page=True)
        context.close()


def _import(page: Page, name: str, data: bytes) -> None:
    page.get_by_role("button", name="Import STEP/STL").click()
    page.get_by_role("dialog").locator("input[type=file]").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": data})
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=60_000)
    expect(page.get_by_test_id("user-bubble")).to_contain_text(f"Imported {name}", timeout=60_000)
    viewer = page.get_by_test_id("model-viewer")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("dims-overlay")).to_have_text("60.0 × 30.0 × 12.0 mm")


def _edges(page: Page) -> tuple[int, dict]:
    """(edge segments, pixel counts) of the shown part in the iso view (grid off)."""
    counts = _view(page, "Iso")
    return _tools(page)["edgeSegments"], counts


def test_imported_stl_draws_feature_edges(running_app, page: Page) -> None:
    from tests.support.mailbox import sign_up

    sign_up(page, running_app, f"stl-{uuid.uuid4().hex[:8]}@example.com", "Stl", PASSWORD)
    expect(page.get_by_test_id("empty-state")).to_be_visible(timeout=30_000)
    block = block_files()

    # The block from STEP: its B-rep edges are the reference.
    _import(page, "block.step", block["step"])
    _grid_off(page)
    step_segments, step_px = _edges(page)
    _shot(page, "edges-step")

    # The same block as an STL (one face per triangle): about the same edges, not its triangulation.
    _import(page, "block.stl", block["stl"])
    stl_segments, stl_px = _edges(page)
    _shot(page, "edges-stl")
    assert step_segments > 12 and stl_segments > 12, (step_segments, stl_segments)  # edges are drawn
    # The STL's circles have more segments than the STEP's tessellation; its flat faces add none.
    assert stl_segments <= 3 * step_segments, (stl_segments, step_segments)
    assert stl_px["dark"] <= 1.25 * step_px["dark"], (stl_px, step_px)
    # Turning edges off still removes them.
    edges = page.get_by_role("button", name="Edges", exact=True)
    without = _after(page, edges.click)
    assert without["dark"] < 0.25 * stl_px["dark"], (without, stl_px)
    _after(page, edges.click)


def test_code_editor_marks_the_error_line(running_app, page: Page) -> None:
    _open_plate(page, running_app)
    page.get_by_role("tab", name="Code").click()
    editor = page.get_by_test_id("code-editor")
    expect(editor).to_have_attribute("contenteditable", "true")
    expect(editor).to_have_accessible_name("Program")
    expect(editor).to_contain_text("length = 80.0")
    # The program as shown, line by line (innerText of the whole editor doubles its blank lines).
    lines = [t.rstrip("\n") for t in editor.locator(".cm-line").all_inner_texts()]
    code = "\n".join(lines)
    # Line numbers: 1 to n beside the n lines of the program.
    n = len(lines)
    assert n >= 10, n
    numbers = page.locator(".cm-lineNumbers .cm-gutterElement").all_inner_texts()
    assert [int(t) for t in numbers if t.strip().isdigit()] == list(range(1, n + 1)), numbers
    # Python highlighting: `from` and `import` are coloured unlike the module name between them.
    colours = page.locator(".cm-line", has_text=re.compile(r"^from build123d import")).evaluate("""line => {
      const colour = (el) => getComputedStyle(el).color;
      const spans = [...line.querySelectorAll('span')];
      const kw = spans.find((s) => s.textContent === 'from');
      return { keyword: kw ? colour(kw) : null, line: colour(line) };
    }""")
    assert colours["keyword"] and colours["keyword"] != colours["line"], colours
    _shot(page, "code-editor-desktop-light")

    # A broken line: the error names it and the editor marks that very line.
    broken_at = next(i for i, line in enumerate(lines, 1) if "result = part.part" in line)
    editor.fill(code.replace("result = part.part", "result = part.prt"))
    expect(editor.locator(".cm-line")).to_have_count(n)  # typed in as it is, line for line
    page.get_by_role("button", name="Render").click()
    error = page.get_by_test_id("code-error")
    expect(error).to_contain_text("prt", timeout=60_000)
    expect(error).to_contain_text(f"line {broken_at}")
    marked = page.locator(".cm-line[data-error-line]")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-error-line", str(broken_at))
    expect(marked).to_have_text("result = part.prt")
    bg = marked.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg not in ("rgba(0, 0, 0, 0)", "transparent"), bg
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(1)  # nothing stored
    _shot(page, "code-editor-error")

    # Fixed and rendered: a new version, no error, no mark.
    editor.fill(code.replace("length = 80.0", "length = 70.0"))
    page.get_by_role("button", name="Render").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=60_000)
    expect(error).to_have_count(0)
    expect(marked).to_have_count(0)
    expect(page.get_by_test_id("code-editor")).to_contain_text("length = 70.0")
    page.get_by_role("tab", name="Preview").click()
    expect(page.get_by_test_id("dims-overlay")).to_have_text("70.0 × 50.0 × 5.0 mm", timeout=60_000)

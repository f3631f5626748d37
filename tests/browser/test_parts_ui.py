"""Named parts in the workbench (issue 27 step 4): a program of two labelled solids shows a parts list with the
names "base" and "lid", each part's size and volume, and STL/STEP/3MF links that download that part only (checked
by reading the downloaded files back); the viewer's part toggles carry the same names."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_viewer_tools import _open_plate
from tests.support.cad_files import mf_objects, step_products, stl_extent_and_volume

TWO_PARTS = """from build123d import *
base = Box(40, 40, 4)
base.label = "base"
lid = Pos(40, 0, 10) * Cylinder(5, 20)
lid.label = "lid"
result = Compound(children=[base, lid])
"""


def test_two_named_parts_with_their_own_downloads(running_app, page: Page, tmp_path) -> None:
    _open_plate(page, running_app)
    expect(page.get_by_test_id("parts-table")).to_have_count(0)  # one solid: no parts list

    page.get_by_role("tab", name="Code").click()
    page.get_by_test_id("code-editor").fill(TWO_PARTS)
    page.get_by_role("button", name="Render").click()
    expect(page.get_by_test_id("assistant-bubble")).to_have_count(2, timeout=60_000)
    page.get_by_role("tab", name="Preview").click()
    expect(page.get_by_test_id("dims-overlay")).to_have_text("65.0 × 40.0 × 22.0 mm", timeout=60_000)

    rows = page.get_by_test_id("parts-table").get_by_test_id("part-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("base")
    expect(rows.nth(0)).to_contain_text("40.0 × 40.0 × 4.0 mm")
    expect(rows.nth(0)).to_contain_text("6.4 cm³")
    expect(rows.nth(1)).to_contain_text("lid")
    expect(rows.nth(1)).to_contain_text("10.0 × 10.0 × 20.0 mm")
    # The viewer's show/hide toggles use the same names.
    toggles = page.get_by_test_id("model-viewer").get_by_test_id("part-list").locator("label")
    expect(toggles).to_have_text(["base", "lid"])

    wants = {"base": ([40, 40, 4], 6400.0), "lid": ([10, 10, 20], 1570.8)}
    for name, (size, volume) in wants.items():
        link = page.get_by_role("link", name=f"Download {name} STL")
        with page.expect_download() as got:
            link.click()
        download = got.value
        assert download.suggested_filename.endswith(f"-{name}.stl"), download.suggested_filename
        extent, vol = stl_extent_and_volume(open(download.path(), "rb").read())
        assert extent == pytest.approx(size, abs=0.05) and vol == pytest.approx(volume, rel=0.02)
        href = page.get_by_role("link", name=f"Download {name} STEP").get_attribute("href")
        step = page.request.get(urljoin(page.url, href))  # the page's own cookie signs the request in
        (product,) = step_products(step.body(), tmp_path)
        assert product[0] == name and product[1] == pytest.approx(volume, abs=0.5)
        mf = page.request.get(urljoin(page.url, page.get_by_role("link", name=f"Download {name} 3MF").get_attribute("href")))
        assert [(o[0], pytest.approx(o[1], abs=0.05)) for o in mf_objects(mf.body(), tmp_path)] == [(name, size)]

    # A share link of this version offers the same parts list on the public page, signed out.
    page.get_by_role("tab", name="Versions").click()
    page.get_by_role("button", name="Share Version 2").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Create link").click()
    url = dialog.get_by_test_id("share-url").input_value()
    dialog.get_by_role("button", name="Done").click()
    public = page.context.browser.new_context().new_page()
    public.goto(url)
    shared = public.get_by_test_id("parts-table").get_by_test_id("part-row")
    expect(shared).to_have_count(2, timeout=30_000)
    expect(shared.nth(1)).to_contain_text("lid")
    lid = public.request.get(urljoin(public.url, public.get_by_role("link", name="Download lid STL").get_attribute("href")))
    assert lid.ok and stl_extent_and_volume(lid.body())[0] == pytest.approx([10, 10, 20], abs=0.05)
    public.context.close()

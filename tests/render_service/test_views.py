"""The review views (issue 23 item 2): format `views` is a sheet of real pictures of the part, drawn by the
trusted post step from the mesh. Measured on the pictures: the plate's top view has the plate's aspect, the
front view its thickness at the same scale, a through hole shows the background and a blind one a darker floor."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from render_helpers import answer

from render_service import postrender

PX = postrender.VIEW_PX
PLATE = """from build123d import *
with BuildPart() as p:
    Box(80, 40, 5, align=(Align.CENTER, Align.CENTER, Align.MAX))  # the top face at z = 0, where holes start
    with Locations((-20, 0)):
        Hole(4)
    with Locations((20, 0)):
        Hole(4, depth=2)
result = p.part
"""


def _panels(png: bytes) -> dict[str, np.ndarray]:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (2 * PX, 2 * PX) and im.mode == "RGB"
        sheet = np.asarray(im)
    return {name: sheet[row * PX:(row + 1) * PX, col * PX:(col + 1) * PX]
            for name, _view, _up, (row, col) in postrender.VIEWS}


def _part_box(panel: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns the part covers (below the caption band), as (top, bottom, left, right)."""
    mask = panel[..., 0] < 200  # the background is (246, 247, 249); the part and its outline are darker
    mask[:24] = False  # the caption
    mask[:, -1:] = mask[-1:, :] = False  # the sheet's dividing lines
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_the_service_draws_views_of_the_part(service):
    with service.client() as c:
        r = c.post("/render", json={"code": PLATE, "formats": ["views", "png"], "timeout_s": 60})
    assert r.status_code == 200, r.text[:2000]
    files = {f["format"]: f for f in answer(r)["files"]}
    assert files["views"]["filename"] == "views.png"
    panels = _panels(files["views"]["data"])

    top, front, right = (_part_box(panels[n]) for n in ("top", "front", "right"))
    width, depth = top[3] - top[2], top[1] - top[0]
    assert width / depth == pytest.approx(80 / 40, rel=0.05)  # the top view has the plate's aspect
    assert width == pytest.approx(0.88 * PX, abs=3)  # the longest side fills the panel less its margins
    # Front and right share the scale: 5 mm thick, 80 and 40 mm wide; front is aligned under top.
    assert front[1] - front[0] == pytest.approx(5 / 80 * width, abs=2)
    assert front[3] - front[2] == pytest.approx(width, abs=2) and abs(front[2] - top[2]) <= 1
    assert right[3] - right[2] == pytest.approx(depth, abs=2)

    # The through hole (x = -20) shows the background; the blind one (x = +20) shows a floor darker than the top.
    cy = (top[0] + top[1]) // 2
    at = lambda x_mm: (top[2] + top[3]) // 2 + round(x_mm / 80 * width)  # noqa: E731
    plate_colour = panels["top"][cy + 10, (top[2] + top[3]) // 2].astype(int)
    through, blind = panels["top"][cy, at(-20)].astype(int), panels["top"][cy, at(20)].astype(int)
    assert list(through) == [246, 247, 249]
    assert blind[0] < 200 and blind.sum() < plate_colour.sum() - 20
    assert (panels["iso"][..., 0] < 200).mean() > 0.05  # the iso view shows the part too


def test_views_of_an_empty_mesh_are_a_blank_sheet(tmp_path):
    path = tmp_path / "views.png"
    postrender.render_views(np.zeros((0, 3, 3), np.float32), str(path))
    panels = _panels(path.read_bytes())
    assert all((p[30:-2, 2:-2] == [246, 247, 249]).all() for p in panels.values())

"""The viewer's plain math (assets/chat3d_viewer_math.js, issue 25), run in Node as the browser runs it: what
the grid, the size overlay and the measure readout say in millimetres and inches, where the section plane cuts
as its slider sweeps along each axis, how far the camera sits to fit a part, and how GLB coordinates map to
model millimetres and back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from chat3d.settings import REPO_ROOT
from tests.frontend.node import run_module

MODULE = REPO_ROOT / "assets" / "chat3d_viewer_math.js"


def run(tmp_path: Path, body: str):
    return run_module(MODULE, tmp_path, body)


def test_the_grid_cell_is_a_power_of_ten_about_a_tenth_of_the_part(tmp_path) -> None:
    got = run(tmp_path, """
      return {
        steps: [80, 99, 100, 250, 1000, 5, 0.3, 0].map(m.gridStep),
        legend: [0.1, 0.30000000000000004, 10, 1234567.8].map(m.num),
        units: [m.unitsOf("in"), m.unitsOf("mm"), m.unitsOf(undefined), m.unitsOf("furlong")],
      };
    """)
    # 80 mm -> 1 mm cells (10 mm sections); 250 -> 10; a part under 10 units still gets 0.1-unit cells.
    assert got["steps"] == [1, 1, 10, 10, 100, 0.1, 0.1, 0.1]
    assert got["legend"] == ["0.1", "0.3", "10", "1234570"]
    assert got["units"] == ["in", "mm", "mm", "mm"]


def test_the_size_overlay_and_the_measure_readout_speak_the_chats_units(tmp_path) -> None:
    got = run(tmp_path, """
      const r = m.measure([0, 0, 0], [30, -40, 0]);
      return {
        mm: m.dimsText([80, 50, 5], "mm"), inch: m.dimsText([25.4, 50.8, 3.175], "in"), none: m.dimsText([], "mm"),
        partial: m.dimsText([80, 50], "mm"),
        dist: r.dist, d: r.d,
        lengths: [m.fmt(50, "mm"), m.fmt(50, "in"), m.fmt(-0.001, "mm"), m.fmt(-0.004, "mm"), m.fmt(-0.01, "in"), m.fmt(-12.5, "mm")],
      };
    """)
    assert got["mm"] == "80.0 × 50.0 × 5.0 mm"
    assert got["inch"] == "1.00 × 2.00 × 0.13 in"
    assert got["none"] == "" and got["partial"] == ""
    assert got["dist"] == 50 and got["d"] == [30, -40, 0]
    # 50 mm is 1.969 in; a difference that rounds to nothing reads 0.00, never -0.00.
    assert got["lengths"] == ["50.00", "1.969", "0.00", "0.00", "0.000", "-12.50"]


def test_the_section_plane_sweeps_each_axis_from_below_the_part_to_its_far_side(tmp_path) -> None:
    # The scene box of an 80 x 50 x 5 mm plate: model X -> world x, model Z -> world y, model Y -> world -z.
    got = run(tmp_path, """
      const box = {min: [-40, 0, -25], max: [40, 5, 25]};
      const out = {};
      for (const axis of ["x", "y", "z"]) out[axis] = [0, 0.5, 1, -3, 7].map((t) => m.sectionPlane(box, axis, t));
      out.off = [m.sectionPlane(box, null, 0.5), m.sectionPlane(box, "w", 0.5)];
      return out;
    """)
    eps = 1e-3 * 80
    x = got["x"]
    assert all(p["normal"] == [-1, 0, 0] for p in x)
    # kept: -x + c >= 0, i.e. x <= c: just below the part at 0, the middle at 0.5, the far side at 1; clamped.
    assert x[0]["constant"] == pytest.approx(-40 - eps) and x[1]["constant"] == pytest.approx(0 - eps / 2)
    assert x[2]["constant"] == pytest.approx(40) and x[3] == x[0] and x[4] == x[2]
    z = got["z"]
    assert z[0] == {"normal": [0, -1, 0], "constant": pytest.approx(-eps)} and z[2]["constant"] == pytest.approx(5)
    # model Y runs along world -z: keeping model y <= c is keeping world z >= -c (normal +z).
    y = got["y"]
    assert y[0] == {"normal": [0, 0, 1], "constant": pytest.approx(-25 - eps)} and y[2]["constant"] == pytest.approx(25)
    assert got["off"] == [None, None]


def test_the_camera_distance_fits_the_part_in_the_narrower_field_of_view(tmp_path) -> None:
    got = run(tmp_path, """
      return [m.fitDistance(50, 40, 2), m.fitDistance(50, 40, 0.5), m.fitDistance(0.2, 40, 1), m.fitDistance(50, 0, 0)];
    """)
    wide, tall, tiny, defaults = got
    assert wide == pytest.approx(50 / math.sin(math.radians(20)) * 1.2)  # wide canvas: the vertical fov limits
    hfov = 2 * math.atan(math.tan(math.radians(20)) * 0.5)
    assert tall == pytest.approx(50 / math.sin(hfov / 2) * 1.2)  # tall canvas: the horizontal one does
    assert tall > wide
    assert tiny == pytest.approx(1 / math.sin(math.radians(20)) * 1.2)  # a sub-millimetre part: radius 1 at least
    assert defaults == pytest.approx(50 / math.sin(math.radians(22.5)) * 1.2)  # unknown fov/aspect: 45°, square


def test_glb_coordinates_map_to_model_millimetres_and_back(tmp_path) -> None:
    got = run(tmp_path, """
      const k = 1000;  // a GLB in metres
      const mm = m.localToModelMm([0.04, 0.005, -0.025], k);
      return {
        mm, back: m.modelMmToLocal(mm, k),
        scaled: m.mmScale([80, 50, 5], [0.08, 0.005, 0.05]), asIs: m.mmScale([], [3, 2, 1]), flat: m.mmScale([0, 0, 0], [0, 0, 0]),
      };
    """)
    assert got["mm"] == pytest.approx([40, 25, 5])  # scene -z is model +Y, scene y is model Z
    assert got["back"] == pytest.approx([0.04, 0.005, -0.025])
    assert got["scaled"]["scale"] == pytest.approx(1000) and got["scaled"]["maxMm"] == 80
    assert got["asIs"] == {"scale": 1, "maxMm": 3}
    assert got["flat"] == {"scale": 1, "maxMm": 0}

"""Issue 23: the requirement checker on solids measured by the render service's post step (in-process here:
render_service.runner.build_and_export runs the same postrender.finish the service runs in its own process)."""

from __future__ import annotations

import pytest

from chat3d.domain import requirements as R
from chat3d.pipeline.rendering import checked_metrics
from render_service.runner import build_and_export

PLATE = """
from build123d import *
with BuildPart() as p:
    Box(80, 50, 5)
    with GridLocations(60, 30, 2, 2):
        Hole({r})
result = p.part
"""

CUP = """
from build123d import *
with BuildPart() as p:
    Cylinder(15, 20)
    with Locations((0, 0, 10)):
        Hole(12, depth=12)
    with Locations((0, 0, -10)):
        Cylinder(3, 8, align=(Align.CENTER, Align.CENTER, Align.MAX))
result = p.part
"""


def measured(code: str, tmp_path) -> dict:
    out = build_and_export(code, ["stl"], str(tmp_path))
    assert out["ok"], out
    return checked_metrics(out["metrics"])


def stated(*reqs: dict) -> list[dict]:
    return R.normalise([{**r, "source": r.get("source", "stated")} for r in reqs])


def test_plate_with_four_holes_passes(tmp_path):
    rows = R.check(stated({"kind": "size", "value": [80, 50, 5]}, {"kind": "holes", "count": 4, "diameter_mm": 4},
                          {"kind": "thickness", "value": 5}, {"kind": "through"}, {"kind": "one_solid"},
                          {"kind": "symmetric"}), measured(PLATE.format(r=2), tmp_path))
    assert [r["status"] for r in rows] == ["pass"] * 6
    assert R.summary(rows) == ("80 × 50 × 5 mm ✓ · 4 holes Ø4 ✓ · 5 mm thick ✓ · through holes ✓ · one solid ✓ · "
                               "symmetric ✓")


def test_wrong_hole_diameter_fails_and_says_what_was_found(tmp_path):
    rows = R.check(stated({"kind": "holes", "count": 4, "diameter_mm": 4}, {"kind": "diameter", "feature": "hole", "value": 4}),
                   measured(PLATE.format(r=2.5), tmp_path))
    assert [r["status"] for r in rows] == ["fail", "fail"]
    assert rows[0]["detail"] == "found 4 holes (Ø5)"
    assert "4 holes Ø4: found 4 holes (Ø5)" in R.repair_request(rows, "result = 1")
    assert R.reply_note(rows, 1).startswith("Not met after 1 repair round: 4 holes Ø4 (found 4 holes (Ø5))")


def test_assumed_values_are_never_ticked_and_not_modelled_is_a_cross(tmp_path):
    m = measured(PLATE.format(r=2), tmp_path)
    rows = R.check(R.normalise([{"kind": "size", "value": [80, 50, 5], "source": "assumed"},
                                {"kind": "holes", "count": 4, "diameter_mm": 4, "diameter_assumed": True, "source": "stated"},
                                {"kind": "feature", "label": "chamfers", "source": "not_modelled"}]), m)
    assert [r["status"] for r in rows] == ["assumed", "pass", "not_modelled"]
    assert R.summary(rows) == "80 × 50 × 5 mm assumed · 4 holes (Ø4 assumed) ✓ · chamfers ✗ not modelled"
    assert R.failed(rows) == []  # nothing to repair: an assumed value and a missing feature are reported, not retried


def test_blind_hole_boss_wall_and_counts_on_a_cup(tmp_path):
    m = measured(CUP, tmp_path)
    f = m["features"]
    assert (f["holes"], f["through_holes"], f["bosses"]) == (1, 0, 2)
    assert f["min_wall_mm"] == pytest.approx(3, abs=0.05)  # the side wall, 15 - 12 (floor 8, the boss 6 across)
    rows = R.check(stated({"kind": "blind"}, {"kind": "through"}, {"kind": "bosses", "count": 2},
                          {"kind": "diameter", "feature": "boss", "value": 6}, {"kind": "wall", "value": 3},
                          {"kind": "wall", "value": 8}, {"kind": "teeth", "count": 20}), m)
    assert [r["status"] for r in rows] == ["pass", "fail", "pass", "pass", "pass", "fail", "not_checkable"]


def test_two_solids_fail_one_solid(tmp_path):
    code = "from build123d import *\nresult = Compound([Box(10, 10, 10), Pos(30, 0, 0) * Box(10, 10, 10)])\n"
    rows = R.check(stated({"kind": "one_solid"}), measured(code, tmp_path))
    assert rows[0]["status"] == "fail" and rows[0]["detail"] == "2 solids"


def test_malformed_requirements_are_dropped():
    assert R.normalise([{"kind": "size", "value": [1, 2]}, {"kind": "holes"}, {"kind": "nope"}, "x",
                        {"kind": "diameter", "value": -3}, {"kind": "holes", "count": 2, "source": "made up"}]) == [
        {"kind": "holes", "source": "stated", "count": 2}]
    assert R.check(stated({"kind": "holes", "count": 2}), {"features": None})[0]["status"] == "not_checkable"

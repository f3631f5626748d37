"""Parameters of build123d programs: found with the AST, changed in place, checked against their ranges."""

from __future__ import annotations

import ast

import pytest

from chat3d.domain.parameters import ParameterError, apply_parameters, extract_parameters, parse_comment
from chat3d.llm.offline import families
from chat3d.llm.offline.model import complete_spec

PLATE = '''\
from build123d import *

length = 80.0  # mm, plate length along X [10..500]
width = 50.0  # mm, plate width along Y [10..500]
thickness   =   5.0    # mm, plate thickness [1..50]
hole_count = 4  # count, holes [0..16]
offset_x = -2.5  # mm, shift of the hole grid [-20..20]
corner_radius: float = 3.0  # mm, vertical edge fillet
scale = 1
inset = 8.0
inset = inset * 2  # reassigned: derived, not a parameter
margin = length / 10  # derived
enabled = True  # a bool is not a number parameter
name = "plate"

def helper(length=3.0):
    local = 5.0
    return local * length

with BuildPart() as part:
    Box(length, width, thickness, align=(Align.CENTER, Align.CENTER, Align.MIN))

result = part.part
'''


def _by_name(code: str) -> dict:
    return {p.name: p for p in extract_parameters(code)}


def test_plate_parameters_units_ranges_and_exclusions() -> None:
    params = _by_name(PLATE)
    assert list(params) == ["length", "width", "thickness", "hole_count", "offset_x", "corner_radius", "scale"]
    length = params["length"]
    assert (length.value, length.unit, length.description, length.min, length.max, length.line) == (
        80.0, "mm", "plate length along X", 10.0, 500.0, 3)
    assert params["thickness"].value == 5.0 and params["thickness"].max == 50
    assert params["hole_count"].integer and params["hole_count"].unit == "count"
    assert params["offset_x"].value == -2.5 and params["offset_x"].min == -20
    assert params["corner_radius"].unit == "mm" and params["corner_radius"].min is None
    assert params["scale"].integer and params["scale"].description == ""
    assert not length.integer


def test_apply_rewrites_only_the_literals() -> None:
    out = apply_parameters(PLATE, {"length": 120, "thickness": 7.25, "offset_x": -10, "hole_count": 6})
    assert "length = 120.0  # mm, plate length along X [10..500]" in out
    assert "thickness   =   7.25    # mm, plate thickness [1..50]" in out
    assert "offset_x = -10.0  # mm, shift of the hole grid [-20..20]" in out
    assert "hole_count = 6  # count, holes [0..16]" in out
    before, after = PLATE.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [2, 4, 5, 6]
    ast.parse(out)
    assert _by_name(out)["offset_x"].value == -10.0
    # A negative literal can become positive and back.
    again = apply_parameters(out, {"offset_x": 3})
    assert "offset_x = 3.0  #" in again and _by_name(again)["offset_x"].value == 3.0


@pytest.mark.parametrize("values, message", [
    ({"lenght": 90}, "no parameter named lenght"),
    ({"margin": 9}, "no parameter named margin"),
    ({"inset": 9}, "no parameter named inset"),
    ({"length": 5}, "at least 10 mm"),
    ({"length": 501}, "at most 500 mm"),
    ({"hole_count": 2.5}, "whole number"),
    ({"width": float("nan")}, "finite"),
    ({"width": "wide"}, "must be a number"),
])
def test_bad_changes_are_refused(values, message) -> None:
    with pytest.raises(ParameterError) as err:
        apply_parameters(PLATE, values)
    assert message in err.value.message


def test_syntax_error_is_a_clear_error() -> None:
    with pytest.raises(ParameterError, match="line 2"):
        extract_parameters("length = 5.0\nresult = Box(length,\n")


@pytest.mark.parametrize("comment, expected", [
    ("mm, overall length [10..500]", ("mm", "overall length", 10.0, 500.0)),
    ("deg, involute pressure angle [14.5..25]", ("deg", "involute pressure angle", 14.5, 25.0)),
    ("mm overall length [1 .. 2]", ("mm", "overall length", 1.0, 2.0)),
    ("offset [-20..-5] in mm", ("", "offset  in mm", -20.0, -5.0)),
    ("number of teeth", ("", "number of teeth", None, None)),
    ("inch, bolt spacing [0.5 to 3]", ("in", "bolt spacing", 0.5, 3.0)),
])
def test_comment_parsing(comment, expected) -> None:
    assert parse_comment(comment) == expected


def test_offline_gear_template() -> None:
    code = families.render_code(complete_spec(families.SPUR_GEAR, {"teeth": 24}))
    params = _by_name(code)
    assert list(params) == ["teeth", "module", "thickness", "bore_diameter", "pressure_angle"]
    assert params["teeth"].integer and params["teeth"].value == 24 and (params["teeth"].min, params["teeth"].max) == (8, 200)
    assert params["pressure_angle"].unit == "deg" and params["pressure_angle"].min == 14.5
    # Derived names in the body (pitch_radius, ...) and function locals are not parameters.
    assert "pitch_radius" not in params and "flank_radii" not in params
    out = apply_parameters(code, {"teeth": 30, "module": 1.5})
    assert "teeth = 30  # count" in out and "module = 1.5  # mm" in out
    # The offline provider reads the edited program back to the same values.
    spec = families.spec_from_code(out)
    assert spec.params["teeth"] == 30 and spec.params["module"] == 1.5


@pytest.mark.parametrize("family", families.FAMILIES, ids=lambda f: f.name)
def test_every_offline_template_exposes_its_declared_parameters(family) -> None:
    code = families.render_code(complete_spec(family, {}))
    params = _by_name(code)
    assert list(params) == [p.name for p in family.params]
    for declared in family.params:
        found = params[declared.name]
        assert (found.min, found.max) == (declared.lo, declared.hi)
        assert found.integer == declared.count
        lo, hi, step = found.slider_range()
        assert lo == declared.lo and hi == declared.hi and step > 0


def test_slider_range_without_declared_range() -> None:
    params = _by_name(PLATE)
    lo, hi, step = params["corner_radius"].slider_range()
    assert lo == 0 and hi >= 6 and 0 < step <= 1
    assert params["scale"].slider_range()[2] == 1


def test_unicode_before_a_literal_keeps_columns_right() -> None:
    code = "größe = 12.0  # mm, Größe ⌀ [1..100]\nresult = größe\n"
    out = apply_parameters(code, {"größe": 20})
    assert out == "größe = 20.0  # mm, Größe ⌀ [1..100]\nresult = größe\n"

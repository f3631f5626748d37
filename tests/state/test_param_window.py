"""Parameter rows (chat3d.state.chat_workbench.param_views): a slider's window around the value in fine steps
(a declared [1..1000] used to fill the slider's width), inch rows for millimetre parameters of an inch chat."""

from __future__ import annotations

import pytest

from chat3d.state.chat_workbench import param_views, slider_window

PROGRAM = """from build123d import *
length = 80.0  # mm, overall length (X) [1..1000]
hole_diameter = 4.0  # mm, through-hole diameter [0.5..100]
hole_count = 4  # count, through holes [1..64]
angle = 70.0  # deg, back angle [0..90]
result = Box(length, 10, 10)
"""


def _rows(units: str = "mm") -> dict:
    return {p.name: p for p in param_views(PROGRAM, units)}


def test_window_around_the_value_not_the_declared_range() -> None:
    length = _rows()["length"]
    assert (length.min, length.max, length.step) == (40.0, 120.0, 1.0)  # not 1..1000
    assert length.aria == "length (mm)" and length.text == "80.0"
    angle = _rows()["angle"]
    assert angle.min == 35.0 and angle.max == 90.0  # cut at the declared 90
    count = _rows()["hole_count"]
    assert (count.min, count.max, count.step) == (1.0, 9.0, 1.0) and count.aria == "hole count"


@pytest.mark.parametrize("value", [0.0, 0.3, 4.0, 12.5, 80.0, 950.0, -20.0])
def test_every_window_holds_its_value_in_20_to_200_steps(value: float) -> None:
    lo, hi, step = slider_window(value, None, None, False, "mm")
    assert lo <= value <= hi
    assert 10 <= (hi - lo) / step <= 200, (lo, hi, step)


def test_inch_chat_rows_are_inches() -> None:
    rows = _rows("in")
    length = rows["length"]
    assert length.unit == "in" and length.scale == 25.4 and length.text == "3.150" and length.aria == "length (in)"
    assert length.min < 80 / 25.4 < length.max and length.step == 0.1
    assert rows["angle"].unit == "deg" and rows["angle"].scale == 1.0  # only lengths change
    assert rows["hole_count"].scale == 1.0

"""The viewer's picking rules (assets/chat3d_picking.js, issue 27), run in Node as the browser runs them:
which edge a pointer is on (screen-space tolerance, nearest first), when a surface hides an edge, what a
click, shift-click, click on nothing and a list toggle do to the selection, and how the keyboard list's
highlight moves. The module is plain ES (no three.js, no React), so Node imports it as it is."""

from __future__ import annotations

from pathlib import Path

from chat3d.settings import REPO_ROOT
from tests.frontend.node import run_module

MODULE = REPO_ROOT / "assets" / "chat3d_picking.js"


def run(tmp_path: Path, body: str):
    return run_module(MODULE, tmp_path, body)


def test_an_edge_is_picked_within_the_tolerance_and_the_nearest_first(tmp_path) -> None:
    got = run(tmp_path, """
      const lines = [
        {id: "E1", points: [[0, 100], [200, 100]]},          // horizontal at y = 100
        {id: "E2", points: [[50, 0], [50, 50], [50, 104]]},  // vertical polyline ending 4 px above E1
        {id: "E3", points: [[300, 0], null, [300, 200]]},    // its middle point is behind the camera
      ];
      return {
        on: m.edgesNear([120, 103], lines).map((e) => [e.id, e.distance]),
        corner: m.edgesNear([50, 103], lines).map((e) => e.id),
        off: m.edgesNear([120, 110], lines),
        wide: m.edgesNear([120, 110], lines, 12).map((e) => e.id),
        behind: m.edgesNear([300, 100], lines),
        t: m.segmentDistance([150, 7], [100, 0], [200, 0]),
        beyond: m.segmentDistance([250, 0], [100, 0], [200, 0]),
        tolerance: m.EDGE_TOLERANCE_PX,
      };
    """)
    assert got["on"] == [["E1", 3]]
    assert got["corner"] == ["E2", "E1"]  # 1 px from E2's end, 3 px from E1
    assert got["off"] == [] and got["wide"] == ["E1"]  # 10 px away: only with a wider tolerance
    assert got["behind"] == []  # a segment with an end behind the camera is not drawn, so not picked
    assert got["t"] == {"distance": 7, "t": 0.5} and got["beyond"] == {"distance": 50, "t": 1}
    assert 3 <= got["tolerance"] <= 10


def test_a_surface_in_front_hides_an_edge_but_its_own_face_does_not(tmp_path) -> None:
    got = run(tmp_path, """
      return [m.edgeVisible(100, null, 0.5), m.edgeVisible(100, 99.8, 0.5), m.edgeVisible(100, 60, 0.5)];
    """)
    assert got == [True, True, False]


def test_click_shift_click_empty_click_and_list_toggle(tmp_path) -> None:
    got = run(tmp_path, """
      return {
        click: m.clickSelection(["F1", "E2"], "F3", false),
        again: m.clickSelection(["F3"], "F3", false),
        shift: m.clickSelection(["F1"], "E2", true),
        shiftOff: m.clickSelection(["F1", "E2"], "F1", true),
        empty: m.clickSelection(["F1", "E2"], null, false),
        shiftEmpty: m.clickSelection(["F1"], null, true),
        fromNothing: m.clickSelection(undefined, "F4", true),
        toggleOn: m.toggleSelection(["F1"], "F2"),
        toggleOff: m.toggleSelection(["F1", "F2"], "F1"),
      };
    """)
    assert got == {"click": ["F3"], "again": ["F3"], "shift": ["F1", "E2"], "shiftOff": ["E2"], "empty": [],
                   "shiftEmpty": ["F1"], "fromNothing": ["F4"], "toggleOn": ["F1", "F2"], "toggleOff": ["F2"]}


def test_the_list_highlight_moves_with_the_keys_and_stops_at_the_ends(tmp_path) -> None:
    got = run(tmp_path, """
      const keys = ["ArrowDown", "ArrowUp", "Home", "End", "PageDown", "PageUp", "a"];
      return {
        none: keys.map((k) => m.moveActive(25, -1, k)),
        middle: keys.map((k) => m.moveActive(25, 12, k)),
        first: m.moveActive(25, 0, "ArrowUp"), last: m.moveActive(25, 24, "ArrowDown"),
        nearEnd: m.moveActive(25, 20, "PageDown"), empty: m.moveActive(0, -1, "ArrowDown"),
      };
    """)
    assert got["none"] == [0, 24, 0, 24, 9, 0, None]
    assert got["middle"] == [13, 11, 0, 24, 22, 2, None]
    assert (got["first"], got["last"], got["nearEnd"], got["empty"]) == (0, 24, 24, None)


def test_a_hit_is_named_by_its_tagged_ancestor(tmp_path) -> None:
    got = run(tmp_path, """
      const root = {name: "root"};
      const solid = {name: "solid_1", parent: root};
      const face = {name: "F7", parent: solid};
      const prim = {name: "F7_1", parent: face};
      const edge = {name: "E12", parent: {name: "edges", parent: root}};
      const plain = {name: "solid_2", parent: root};
      return [m.topologyId(prim, root), m.topologyId(face, root), m.topologyId(edge, root),
              m.topologyId(plain, root), m.topologyId(root, root)];
    """)
    assert got == ["F7", "F7", "E12", None, None]

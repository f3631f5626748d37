"""Issue 25: event names and query states have one definition (chat3d/events/types.py, QueryState); the browser reads
them from the generated assets/chat3d_event_types.js, and no other code spells an event name itself."""

from __future__ import annotations

import ast
import re

from chat3d.events import js_module, types
from chat3d.settings import REPO_ROOT
from tests.frontend.node import run_module

NAMES = set(js_module.event_names().values())


def test_the_checked_in_module_is_what_the_generator_writes() -> None:
    assert js_module.PATH.read_text(encoding="utf-8") == js_module.render(), \
        "assets/chat3d_event_types.js is out of date: run `python -m chat3d.events.js_module`"


def test_the_module_runs_in_node_and_routes_known_events_only(tmp_path) -> None:
    got = run_module(js_module.PATH, tmp_path, "return {event: m.EVENT, routes: m.ROUTES, active: m.ACTIVE_QUERY_STATES,"
                                               " terminal: m.TERMINAL_QUERY_STATES, states: m.QUERY_STATE};")
    assert got["event"]["CHAT_QUERY_STATE"] == types.CHAT_QUERY_STATE
    assert set(got["routes"]) <= set(got["event"].values())
    assert set(got["routes"].values()) >= {"onChat", "onNotification", "onSettings"}
    assert set(got["active"]) | set(got["terminal"]) == set(got["states"].values())


def test_every_bridge_prop_is_a_handler_of_the_event_stream() -> None:
    from chat3d.components.event_stream import EventStream

    assert set(types.BRIDGE_PROPS.values()) <= set(EventStream.__annotations__)
    assert set(types.BRIDGE_PROPS) <= NAMES


def test_no_js_asset_spells_an_event_name() -> None:
    quoted = re.compile(r"""["'`]([a-z]+(?:\.[a-z]+)+)["'`]""")
    found = {}
    for path in sorted((REPO_ROOT / "assets").glob("*.js*")):
        if path == js_module.PATH:
            continue
        hits = NAMES & set(quoted.findall(path.read_text(encoding="utf-8")))
        if hits:
            found[path.name] = sorted(hits)
    assert found == {}


def test_no_python_module_spells_an_event_name() -> None:
    found = {}
    for path in sorted((REPO_ROOT / "chat3d").rglob("*.py")):
        if path == REPO_ROOT / "chat3d" / "events" / "types.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        hits = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in NAMES}
        if hits:
            found[str(path.relative_to(REPO_ROOT))] = sorted(hits)
    assert found == {}

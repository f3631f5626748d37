"""The chat states form no import cycle (issue 25 item 1).

Every import between chat3d/state modules is read with `ast`, function-local ones included. The panes import
none of each other and never the reactions module; what they share is ActiveChatState; the one module that
imports them all is chat_reactions. No chat state calls another state's underscore method except AuthState's."""

from __future__ import annotations

import ast
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parents[2] / "chat3d" / "state"
PANES = {"chat", "chat_composer", "chat_contexts", "chat_workbench", "versions"}
CHAT_STATES = PANES | {"chat_reactions", "chat_import", "active_chat", "layout", "chat_view"}


def _imports(module: str) -> list[tuple[str, bool]]:
    """(imported chat3d.state module, whether the import is inside a function) for every import in `module`."""
    tree = ast.parse((STATE_DIR / f"{module}.py").read_text(encoding="utf-8"))
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["chat3d", "state"] and len(parts) > 2 and (STATE_DIR / f"{parts[2]}.py").exists():
                found.append((parts[2], id(node) in local))
    return found


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _ in _imports(m) if t != m and t in CHAT_STATES} for m in CHAT_STATES}


def test_the_chat_states_import_graph_is_acyclic() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_no_pane_imports_another_pane_or_the_reactions() -> None:
    graph = _graph()
    for pane in sorted(PANES):
        assert graph[pane] & (PANES | {"chat_reactions", "chat_import"}) == set(), pane
    assert graph["chat_reactions"] >= PANES  # the one place the panes meet


def test_no_function_local_imports_between_chat_states() -> None:
    local = {(m, t) for m in CHAT_STATES for t, inside in _imports(m) if inside and t in CHAT_STATES}
    assert local == set()


def test_no_chat_state_calls_another_modules_underscore_method() -> None:
    """`x._method(...)` where `_method` is not a method of a class in the calling module: a module's functions
    may use its own states' private methods, other modules call its public functions. AuthState's
    (`_current_user_id`, …) are called in one place only, active_chat.signed_in_user_id."""
    allowed = {"active_chat": {"_current_user_id"}, "chat": {"_current_user", "_set_user"}}  # RatingsState.rate
    calls = []
    for module in sorted(CHAT_STATES):
        tree = ast.parse((STATE_DIR / f"{module}.py").read_text(encoding="utf-8"))
        own = {f.name for c in tree.body if isinstance(c, ast.ClassDef) for f in c.body
               if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))} | allowed.get(module, set())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if not name.startswith("_") or name.startswith("__") or name in own:
                continue
            calls.append(f"{module}: {ast.unparse(node.func)}")
    assert calls == []

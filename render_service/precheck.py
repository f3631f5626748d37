"""AST pre-check: a fast, friendly ``forbidden`` error for obvious misuse.

This is a courtesy to the language model (a clear message it can act on), *not* the security
wall: obfuscation can always get past a static check. The wall is the OS sandbox
(see ``sandbox.py``); ``RENDER_PRECHECK=off`` disables this module so tests prove the wall alone holds.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

ALLOWED_MODULES = frozenset(
    {
        "build123d",
        "math",
        "cmath",
        "typing",
        "typing_extensions",
        "dataclasses",
        "itertools",
        "functools",
        "enum",
        "random",
        "copy",
        "collections",
        "numbers",
        "decimal",
        "fractions",
        "statistics",
        "operator",
        "string",
        "__future__",
    }
)

# Names that reach the interpreter's machinery or the file system.
FORBIDDEN_NAMES = frozenset(
    {
        "__import__",
        "__builtins__",
        "__loader__",
        "__spec__",
        "eval",
        "exec",
        "compile",
        "open",
        "breakpoint",
        "input",
        "globals",
        "locals",
        "vars",
    }
)

# Dunder attributes that are ordinary in model code (class definitions, context managers).
SAFE_DUNDER_ATTRS = frozenset({"__init__", "__post_init__", "__name__", "__doc__", "__enter__", "__exit__"})

ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})

# Input files (an imported STEP/STL) sit in the job folder under a bare name; the program refers to them
# by that name only. The same rule is applied by the server (request) and the worker (before writing).
INPUT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
RESERVED_INPUT_NAMES = frozenset({"result.json", "result.json.tmp"})


def valid_input_name(name: object) -> bool:
    """A bare file name: no slashes, no leading dot, no '..', not one of the job's own output names."""
    return (
        isinstance(name, str)
        and INPUT_NAME_RE.fullmatch(name) is not None
        and ".." not in name
        and name not in RESERVED_INPUT_NAMES
        and not name.startswith("model.")
    )


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _file_call_finding(node: ast.Call, line: int | None) -> Finding | None:
    """build123d's readers get a bare file name of the job folder as a string literal; writers no path."""
    name = _call_name(node.func)
    arg = (
        node.args[0]
        if node.args
        else next(
            (k.value for k in node.keywords if k.arg in ("file_name", "filename", "file_path", "path", "file")), None
        )
    )
    literal = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    if name.startswith("import_") or (name == "read" and literal is not None):
        if literal is None or not valid_input_name(literal):
            return Finding(
                f"{name}() can only read a file attached to this job, by its bare name as a string, "
                f'e.g. {name}("part.step"); other files cannot be read.',
                line,
            )
    elif name.startswith("export_"):
        paths = [
            a.value
            for a in [*node.args, *(k.value for k in node.keywords)]
            if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if any("/" in p or "\\" in p or ".." in p for p in paths):
            return Finding(
                f"{name}() may not write outside the job folder; the service exports the result itself.", line
            )
    return None


@dataclass(frozen=True)
class Finding:
    message: str
    line: int | None


def module_allowed(name: str) -> bool:
    return name.split(".", 1)[0] in ALLOWED_MODULES


def _allowed_list() -> str:
    shown = sorted(m for m in ALLOWED_MODULES if not m.startswith("_"))
    return ", ".join(shown)


def check(code: str) -> Finding | None:
    """Return the first forbidden construct, or None. Syntax errors are left to ``compile``."""
    try:
        tree = ast.parse(code, filename="<model>")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not module_allowed(alias.name):
                    return Finding(
                        f"Importing '{alias.name}' is not allowed: only {_allowed_list()} may be imported.", line
                    )
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level or not module_allowed(mod):
                return Finding(
                    f"Importing from '{mod or '.'}' is not allowed: only {_allowed_list()} may be imported.", line
                )
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES:
                return Finding(f"Using '{node.id}' is not allowed in a model program.", line)
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            if attr.startswith("__") and attr.endswith("__") and attr not in SAFE_DUNDER_ATTRS:
                return Finding(f"Accessing the attribute '{attr}' is not allowed in a model program.", line)
            if attr.startswith("_") and attr[1:2] != "_" and attr in ("_getframe", "_current_frames"):
                return Finding(f"Accessing the attribute '{attr}' is not allowed in a model program.", line)
        elif isinstance(node, ast.Call):
            func = node.func
            file_finding = _file_call_finding(node, line)
            if file_finding is not None:
                return file_finding
            if isinstance(func, ast.Name) and func.id in ATTR_FUNCS and len(node.args) >= 2:
                name_arg = node.args[1]
                if not (isinstance(name_arg, ast.Constant) and isinstance(name_arg.value, str)):
                    return Finding(
                        f"{func.id}() with a computed attribute name is not allowed; use obj.attribute instead.", line
                    )
                if name_arg.value.startswith("_"):
                    return Finding(f"{func.id}() on the private attribute '{name_arg.value}' is not allowed.", line)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            val = node.value
            if val.startswith("__") and val.endswith("__") and len(val) > 4 and val not in SAFE_DUNDER_ATTRS:
                if val not in ("__main__",):
                    return Finding(f"The string '{val}' looks like an attempt to reach interpreter internals.", line)
    return None

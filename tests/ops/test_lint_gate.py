"""The lint gate: ruff (pinned in pyproject's test extras, rules in its [tool.ruff]) finds nothing in the repository,
and the code we ship (chat3d/, render_service/) is as `ruff format` writes it.

Also: every text-mode file read or write names its encoding. CI runs under an ASCII locale, where `read_text()`
without one fails on the first non-ASCII byte; ruff's PLW1514 sees `open()` but not a `Path` it cannot infer.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from chat3d.settings import REPO_ROOT

PACKAGES = ("chat3d", "render_service")


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          encoding="utf-8", timeout=300)


def test_ruff_finds_nothing() -> None:
    done = _ruff("check", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_shipped_code_is_formatted() -> None:
    done = _ruff("format", "--check", *PACKAGES)
    assert done.returncode == 0, "run `ruff format chat3d render_service`:\n" + done.stdout + done.stderr


def _missing_encoding(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(kw.arg in ("encoding", None) for kw in node.keywords):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "read_text" and not node.args:
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute) and func.attr == "write_text" and len(node.args) < 2:
            lines.append(node.lineno)
    return lines


def test_every_text_file_access_names_its_encoding() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True,
                             encoding="utf-8", check=True).stdout.split()
    found = [f"{path}:{line}" for path in tracked if not path.startswith("alembic/versions/")
             for line in _missing_encoding(ast.parse((REPO_ROOT / path).read_text(encoding="utf-8")))]
    assert not found, "read_text()/write_text() without encoding=:\n" + "\n".join(found)

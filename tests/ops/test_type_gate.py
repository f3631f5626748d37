"""The type gate: mypy (the version pinned in pyproject's test extras, settings in its [tool.mypy]) finds no error in
the modules listed in CLEAN: all of chat3d/ and render_service/.

An error fails this test, naming it. A package on the list covers every module under it, new ones included
(`pkg.__init__` is the package's own file only); the list was a ratchet of clean modules until both packages
reached zero errors.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chat3d.settings import REPO_ROOT

CLEAN = (
    "chat3d",
    "render_service",
)

_ERROR = re.compile(r"^(?P<path>[\w./-]+\.py):\d+: error: ")


def _module(path: str) -> str:
    """`chat3d/db/models.py` -> `chat3d.db.models`, `chat3d/db/__init__.py` -> `chat3d.db.__init__`."""
    return path.removesuffix(".py").replace("/", ".")


def _listed(module: str) -> bool:
    return any(module == entry or module.startswith(entry + ".") for entry in CLEAN)


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """One mypy run over pyproject's `files` (chat3d, render_service); minutes when its cache is cold."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-pretty", "--no-color-output", "--show-error-codes"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200,
    )
    if done.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash), so it checked nothing
        pytest.fail(f"mypy failed to run (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.mark.slow
def test_clean_modules_stay_clean(mypy_output: str) -> None:
    errors = [line for line in mypy_output.splitlines()
              if (m := _ERROR.match(line)) and _listed(_module(m.group("path")))]
    assert not errors, "mypy errors in modules that are on the type gate's list:\n" + "\n".join(errors)


def test_every_listed_module_exists() -> None:
    """A renamed or moved module must not drop out of the gate silently."""
    missing = [entry for entry in CLEAN
               if not (REPO_ROOT / f"{entry.replace('.', '/')}.py").is_file()
               and not (REPO_ROOT / entry.replace(".", "/") / "__init__.py").is_file()]
    assert not missing, f"the type gate lists modules that do not exist: {missing}"


def test_list_has_no_duplicates() -> None:
    redundant = [entry for entry in CLEAN
                 if CLEAN.count(entry) > 1 or any(entry.startswith(other + ".") for other in CLEAN)]
    assert not redundant, f"listed twice, or already covered by a listed package: {redundant}"

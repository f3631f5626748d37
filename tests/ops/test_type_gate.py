"""The type gate: mypy (the version pinned in pyproject's test extras, settings in its [tool.mypy]) finds no error in
the modules listed in CLEAN.

The target is zero errors on all of chat3d/ and render_service/. Until then CLEAN is a ratchet that only grows: a
module goes on it once mypy finds nothing there, and an error in a listed module fails this test, naming the
error. A package on the list covers every module under it, new ones included (`pkg.__init__` is the package's
own file only).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chat3d.settings import REPO_ROOT

CLEAN = (
    "chat3d.__init__",
    "chat3d.api",
    "chat3d.bootstrap",
    "chat3d.chat3d",
    "chat3d.components",
    "chat3d.db",
    "chat3d.domain.__init__",
    "chat3d.domain.account_actions",
    "chat3d.domain.admin",
    "chat3d.domain.auth",
    "chat3d.domain.coerce",
    "chat3d.domain.deletion",
    "chat3d.domain.errors",
    "chat3d.domain.evaluations",
    "chat3d.domain.files",
    "chat3d.domain.invitations",
    "chat3d.domain.keys",
    "chat3d.domain.metrics",
    "chat3d.domain.model_settings",
    "chat3d.domain.outbox",
    "chat3d.domain.pagination",
    "chat3d.domain.parameters",
    "chat3d.domain.parts",
    "chat3d.domain.passwords",
    "chat3d.domain.policy",
    "chat3d.domain.ratelimit",
    "chat3d.domain.registration",
    "chat3d.domain.requirements",
    "chat3d.domain.retention",
    "chat3d.domain.review",
    "chat3d.domain.security_events",
    "chat3d.domain.seed",
    "chat3d.domain.segments",
    "chat3d.domain.selection",
    "chat3d.domain.sessions",
    "chat3d.domain.shares",
    "chat3d.domain.tokens",
    "chat3d.domain.users",
    "chat3d.domain.waitlist",
    "chat3d.events.__init__",
    "chat3d.events.js_module",
    "chat3d.events.types",
    "chat3d.llm",
    "chat3d.mail",
    "chat3d.pages",
    "chat3d.pipeline.__init__",
    "chat3d.pipeline.imports",
    "chat3d.pipeline.live",
    "chat3d.pipeline.rendering",
    "chat3d.services.__init__",
    "chat3d.services.outbound_http",
    "chat3d.services.render_client",
    "chat3d.settings",
    "chat3d.state",
    "render_service.__init__",
    "render_service.__main__",
    "render_service.app",
    "render_service.lazy_sklearn",
    "render_service.parts",
    "render_service.postrender",
    "render_service.precheck",
    "render_service.protocol",
    "render_service.runner",
    "render_service.sandbox",
    "render_service.settings",
    "render_service.topology",
    "render_service.untrusted_files",
    "render_service.zygote",
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

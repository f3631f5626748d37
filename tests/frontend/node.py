"""Running a plain-ES asset module (no three.js, no React) in Node, as the browser runs it, for its unit tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest


def run_module(module: Path, tmp_path: Path, body: str):
    """Evaluate `body` (JS with `module` imported as `m`) in Node; its `result` comes back as JSON."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is missing: {module.name} is tested in Node")
    mod = tmp_path / f"{module.stem}.mjs"  # .mjs: Node reads it as an ES module without a package.json
    mod.write_text(module.read_text(encoding="utf-8"), encoding="utf-8")
    script = tmp_path / "case.mjs"
    script.write_text(f"import * as m from {json.dumps(mod.as_uri())};\nconst result = (() => {{ {body} }})();\n"
                      "process.stdout.write(JSON.stringify(result));\n", encoding="utf-8")
    out = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)

"""scripts/frontend_same_origin.py, run by the app image's build: the exported frontend calls the backend at the
page's own origin, in the module and in the gzip copy the backend serves to browsers (issue 22: a deployment
published on any port but 3000 loaded its pages but could not sign in)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from tests.support.containers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "frontend_same_origin.py"
# What `reflex export` writes (Reflex 0.10.1, api_url left at its default).
EXPORTED = ("var e={PING:`http://localhost:3000/ping`,EVENT:`ws://localhost:3000/_event`,"
            "UPLOAD:`http://localhost:3000/_upload`,TRANSPORT:`websocket`,TEST_MODE:!1};export{e as t};")


def _run(build: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(build)], capture_output=True, text=True, timeout=60)


def test_backend_urls_follow_the_page_origin_in_the_module_and_its_gzip_copy(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    module = assets / "reflex-env-Ab12.js"
    module.write_text(EXPORTED, encoding="utf-8")
    (assets / "reflex-env-Ab12.js.gz").write_bytes(gzip.compress(EXPORTED.encode()))
    (assets / "reflex-env-Ab12.js.br").write_bytes(b"stale")
    other = assets / "root-Cd34.js"
    other.write_text("console.log('untouched')", encoding="utf-8")
    assert _run(tmp_path).returncode == 0
    text = module.read_text(encoding="utf-8")
    assert "localhost" not in text
    assert "PING:`${location.origin}/ping`" in text
    assert 'EVENT:`${location.protocol==="https:"?"wss:":"ws:"}//${location.host}/_event`' in text
    assert gzip.decompress((assets / "reflex-env-Ab12.js.gz").read_bytes()).decode() == text
    assert not (assets / "reflex-env-Ab12.js.br").exists()  # never served stale
    assert other.read_text(encoding="utf-8") == "console.log('untouched')"


def test_a_build_without_the_expected_module_or_urls_fails_the_image_build(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    missing = _run(tmp_path)
    assert missing.returncode != 0 and "reflex-env" in missing.stderr
    module = tmp_path / "assets" / "reflex-env-Ef56.js"
    module.write_text("var e={PING:`https://api.example.com/ping`};", encoding="utf-8")
    changed = _run(tmp_path)
    assert changed.returncode != 0 and "unexpected backend URLs" in changed.stderr
    assert module.read_text(encoding="utf-8") == "var e={PING:`https://api.example.com/ping`};"

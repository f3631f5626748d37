"""Take the README's screenshot: the workbench with a rendered part in the 3D viewer (docs/images/workbench.png).

    source scripts/env.sh && python scripts/screenshot.py [--out docs/images/workbench.png] [--prompt "..."]

Starts what the browser tests start (tests/support: the render service and the app as `make dev` runs it), on
free ports with a throwaway data dir and SQLite, signs in as the seeded admin, sends one prompt to the offline
model, waits until the part is in the viewer and saves the page, quantised to a palette so the PNG stays small.
Needs Debian's chromium (/usr/bin/chromium; `make test` installs it as root) and a free `.web` build (it holds
the same lock as the browser tests).
"""

from __future__ import annotations

import argparse
import fcntl
import io
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CHROMIUM_ARGS  # noqa: E402
from tests.support.app_process import AppProcess, RenderServiceProcess  # noqa: E402
from tests.support.live_page import sign_in  # noqa: E402

PROMPT = "a flange 120 mm diameter, 12 mm thick, 8 bolt holes of 10 mm on a 90 mm bolt circle, 40 mm bore"
VIEWPORT = {"width": 1280, "height": 800}
MAX_BYTES = 300_000  # the README's picture stays small


def _small_png(png: bytes) -> bytes:
    """The screenshot as a 256-colour PNG: the UI is flat colours, so this is a fraction of the size."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def take(out: Path, prompt: str) -> int:
    from playwright.sync_api import expect, sync_playwright

    work = Path(tempfile.mkdtemp(prefix="chat3d-screenshot-"))
    render = RenderServiceProcess().start(work)
    app = None
    try:
        with open(REPO / ".web.lock", "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # `reflex run` builds into the checkout's one .web folder
            app = AppProcess(
                data_dir=work / "data", database_url="", render_url=render.url, render_token=render.token,
                env_extra={"SEED_ADMIN_EMAIL": ADMIN_EMAIL, "SEED_ADMIN_PASSWORD": ADMIN_PASSWORD},
            ).start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_context(viewport=VIEWPORT).new_page()
                sign_in(page, app.url, ADMIN_EMAIL, ADMIN_PASSWORD)
                page.get_by_role("button", name="New chat").click()
                page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=60_000)
                chat_id = page.url.rstrip("/").rsplit("/", 1)[-1]
                expect(page.locator(f'[data-chat-id="{chat_id}"]')).to_be_visible(timeout=60_000)
                box = page.get_by_label("Prompt")
                box.fill(prompt)
                box.press("Enter")
                expect(page.get_by_test_id("progress-chip").filter(has_text=re.compile(r"^Completed$"))) \
                    .to_have_count(1, timeout=180_000)
                expect(page.get_by_test_id("model-viewer").locator("[data-status=ready]")).to_be_visible(timeout=60_000)
                page.wait_for_timeout(1500)  # the viewer's fit and the thumbnails settle
                png = _small_png(page.screenshot())
                browser.close()
    finally:
        if app is not None:
            app.stop()
        render.stop()
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    print(f"{out}: {len(png):,} bytes")
    return 0 if len(png) < MAX_BYTES else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "workbench.png")
    ap.add_argument("--prompt", default=PROMPT)
    args = ap.parse_args()
    return take(args.out, args.prompt)


if __name__ == "__main__":
    sys.exit(main())

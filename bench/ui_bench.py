"""UI round trip in Chromium against the real app: click → DOM update, on a light page and in a big chat.

    python -m bench.ui_bench [--n 30] [--items 200]

Starts throwaway PostgreSQL and the real app (`reflex run --env prod --single-port`, tests/support/app_process.py;
the shared `.web` build is locked as the browser tests do), creates a user with a chat of --items items, and
drives Debian's Chromium with Playwright. Every sample is measured inside the page: `performance.now()` just
before `element.click()` and again in the MutationObserver callback that sees the expected change, so it is
the browser-visible latency of one Reflex event round trip (WebSocket → handler → state delta → React render).

* baseline, light page: `/login` — the Sign in button turns into its loading state (`LoginState.submit` sets
  `submitting`; the form posts afterwards). A bare counter page beside the dev-only `/dev/mailbox` would need
  a new page (not added: pages are another engineer's files), so this is the lightest existing round trip.
* chat with 50 items shown (the first page of the thread), and with all --items shown ("Load earlier" until
  the whole history is loaded): thumbs up on the last answer until `aria-pressed` flips (`ThreadState.rate`:
  a database write, then the item reloaded);
* the same chat page, a trivial handler: the rename button until the name field shows
  (`ContextsState.start_rename`), which separates the page's weight from the rating handler's cost.

Prints p50/p95 per case and the ratio to the baseline (target ≤ 1.5×); writes bench/results/ui.json.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "ui.json"
PASSWORD = "ui bench horse battery"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]

# Click `el` and resolve with the ms until `done()` holds after a DOM mutation (or -1 after 10 s).
MEASURE_JS = """
async ([selector, index, doneSrc]) => {
  const all = document.querySelectorAll(selector);
  const el = all[index < 0 ? all.length + index : index];
  const done = new Function('el', doneSrc);
  return await new Promise(resolve => {
    let t0 = 0;
    const timer = setTimeout(() => { obs.disconnect(); resolve(-1); }, 10000);
    const obs = new MutationObserver(() => {
      if (done(el)) { const dt = performance.now() - t0; obs.disconnect(); clearTimeout(timer); resolve(dt); }
    });
    obs.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    t0 = performance.now();
    el.click();
  });
}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def _prepare(db_url: str, items: int) -> tuple[str, str]:
    from sqlmodel import Session

    from chat3d.db.engine import engine_for
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.db.models import ItemRole, User
    from chat3d.domain import chats
    from chat3d.domain.passwords import hash_password

    upgrade_to_head(db_url)
    with Session(engine_for(db_url)) as s:
        s.add(User(email="root@example.com", role="admin", password_hash=hash_password(PASSWORD)))  # nothing to seed
        user = User(email="ui-bench@example.com", password_hash=hash_password(PASSWORD))
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id, name="Two hundred items")
        for i in range(items // 2):
            chats.add_item(s, ctx, ItemRole.user, [{"type": "text", "text": f"Prompt {i}: a {10 + i} mm cube with a 3 mm hole"}])
            chats.add_item(s, ctx, ItemRole.assistant, [{"type": "text", "text": f"Answer {i}. " + "Some explanation. " * 12}])
        s.commit()
        ctx_id = str(ctx.id)
    engine_for(db_url).dispose()
    return "ui-bench@example.com", ctx_id


def _samples(page, n: int, selector: str, index: int, done_src: str, between=None) -> list[float]:
    out = []
    for _ in range(n):
        dt = page.evaluate(MEASURE_JS, [selector, index, done_src])
        if dt < 0:
            raise RuntimeError(f"no DOM update within 10 s for {selector}")
        out.append(dt)
        if between:
            between()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()

    os.environ.setdefault("CHAT3D_ENV", "test")
    from playwright.sync_api import sync_playwright

    from tests.support.app_process import AppProcess
    from tests.support.servers import ThrowawayPostgres

    exe = "/usr/bin/chromium"
    if not Path(exe).exists():
        sys.exit("Debian's chromium is missing (apt-get install -y chromium)")
    workdir = Path(tempfile.mkdtemp(prefix="chat3d-ui-"))
    pg = ThrowawayPostgres().start()
    lock = open(REPO / ".web.lock", "w")
    app = None
    try:
        db_url = pg.url("postgres")
        email, ctx_id = _prepare(db_url, args.items)
        fcntl.flock(lock, fcntl.LOCK_EX)  # one running app per checkout: `reflex run` builds into `.web`
        app = AppProcess(data_dir=workdir / "data", database_url=db_url, render_url="http://127.0.0.1:9",
                         env_extra={"RATE_LIMIT_API": "10000/minute", "RATE_LIMIT_LOGIN": "10000/minute"}).start()
        results: dict[str, list[float]] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)

            # Baseline: the light /login page, a wrong password each time (the form stays put).
            anon = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            anon.goto(f"{app.url}/login", wait_until="networkidle")
            anon.fill("#login-form input[name=email]", "nobody@example.com")
            anon.fill("#login-form input[name=password]", "wrong password 123")
            button = "#login-form button[type=submit]"
            busy = "return el.disabled || el.hasAttribute('data-disabled') || el.getAttribute('aria-busy') === 'true';"

            def settle() -> None:  # the post and its answer finish before the next sample
                anon.wait_for_function(f"() => !document.querySelector('{button}').disabled", timeout=15000)
                anon.wait_for_selector("[role=alert]", timeout=15000)

            _samples(anon, 3, button, 0, busy, settle)  # warm-up
            results["login page: Sign in → loading state"] = _samples(anon, args.n, button, 0, busy, settle)

            # The chat: sign in for real, open the chat with its items.
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(f"{app.url}/login", wait_until="networkidle")
            page.fill("#login-form input[name=email]", email)
            page.fill("#login-form input[name=password]", PASSWORD)
            page.click(button)
            page.wait_for_url("**/chat**", timeout=60000)
            page.goto(f"{app.url}/chat/{ctx_id}", wait_until="networkidle")
            page.wait_for_selector('[aria-label="Good answer"]', timeout=60000)
            thumbs = '[aria-label="Good answer"]'
            flips = "return el.getAttribute('aria-pressed') !== el.dataset.was;"
            mark = f"() => document.querySelectorAll('{thumbs}').forEach(b => b.dataset.was = b.getAttribute('aria-pressed'))"

            def rate_samples(n: int) -> list[float]:
                out = []
                for _ in range(n):
                    page.evaluate(mark)
                    out += _samples(page, 1, thumbs, -1, flips)
                return out

            shown = page.locator(thumbs).count()
            rate_samples(3)
            results[f"chat, {shown * 2} items shown: thumbs up → pressed"] = rate_samples(args.n)

            while page.locator("text=Load earlier").count():
                before = page.locator(thumbs).count()
                page.click("text=Load earlier")
                page.wait_for_function(f"() => document.querySelectorAll('{thumbs}').length > {before}", timeout=30000)
            shown = page.locator(thumbs).count()
            rate_samples(3)
            results[f"chat, {shown * 2} items shown: thumbs up → pressed"] = rate_samples(args.n)

            # The same page, a trivial handler (ContextsState.start_rename sets one field): page weight vs handler.
            def cancel() -> None:
                page.click('[aria-label="Cancel rename"]')
                page.wait_for_selector('[aria-label="Chat name"]', state="detached", timeout=15000)

            opened = "return document.querySelector('[aria-label=\"Chat name\"]') !== null;"
            _samples(page, 3, '[aria-label^="Rename chat"]', 0, opened, cancel)
            results[f"chat, {shown * 2} items shown: rename → name field (trivial handler)"] = _samples(
                page, args.n, '[aria-label^="Rename chat"]', 0, opened, cancel)
            browser.close()
    finally:
        if app:
            app.stop()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    base_name = next(iter(results))
    base_p50 = statistics.median(results[base_name])
    table = []
    for name, values in results.items():
        table.append({"case": name, "n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
                      "ratio_p50_vs_light_page": round(statistics.median(values) / base_p50, 2)})
    body = {"rows": table, "target": "chat round trip p50 ≤ 1.5 × light page",
            "machine": {"cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                        "note": "PostgreSQL, the app and Chromium on one shared host"}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(body, indent=1))
    print("| case | n | p50 ms | p95 ms | p50 vs light page |\n| --- | --- | --- | --- | --- |")
    for r in table:
        print(f"| {r['case']} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['ratio_p50_vs_light_page']}× |")


if __name__ == "__main__":
    main()

"""UI round trip in Chromium against the real app: click → DOM update, on an empty page and in a big chat.

    python -m bench.ui_bench [--n 30] [--items 200]

Starts throwaway PostgreSQL and the real app (`reflex run --env prod --single-port`, tests/support/app_process.py;
the shared `.web` build is locked as the browser tests do), creates a user with a chat of --items items, and
drives Debian's Chromium with Playwright. Every sample is measured inside the page: `performance.now()` just
before `element.click()` and again in the MutationObserver callback that sees the expected change, so it is
the browser-visible latency of one Reflex event round trip (WebSocket → handler → state delta → React render).

* baseline, empty page: `/dev/ping` (chat3d/pages/ping.py, development only like `/dev/mailbox`) — one button
  whose handler flips one state var shown as "on"/"off"; nothing else on the page. Every ratio is against it,
  measured *interleaved*: each sample of a case comes right after one sample of the empty page (its own tab,
  open throughout), and the case's ratio is its p50 over the p50 of the empty-page samples taken beside it. The
  machine's speed drifts from minute to minute (the empty page alone measured 3.5–6.2 ms in four runs of one
  day), so a baseline measured minutes before a case is no fair denominator.
* the light `/login` page, kept for continuity with earlier runs (it was the baseline before /dev/ping): the
  Sign in button turns into its loading state (`LoginState.submit` sets `submitting`; the form posts afterwards).
* chat with 50 items shown (the first page of the thread), and with all --items shown ("Load earlier" until
  the whole history is loaded): thumbs up on the last answer until `aria-pressed` flips (`RatingsState.rate`:
  one entry of its small `ratings` dict, then a database write; the item list is not re-sent, and only the
  rated answer's thumbs re-render);
* the same chat page, a trivial handler: the rename button until the name field shows
  (`ContextsState.start_rename`), which separates the page's weight from the rating handler's cost.

Every click comes SETTLE_MS after the previous sample ended (a person does not click twice within a few ms): the
rating shows before its database write finishes, and a click landing during that write would wait for the tab's
state lock, measuring the previous click.

Every case also records what the server sent while it ran (Playwright sees the WebSocket frames): the
bytes received per sample and which state vars the deltas carried, so a slow case shows its delta size.

Prints p50/p95 per case and the ratio to the empty page (target ≤ 1.5×); writes bench/results/ui.json.
--n 40 samples per case by default (with as many empty-page samples beside them).
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

# Every page records when each WebSocket message is sent and arrives (before socket.io handles it), so a sample
# splits into click → event sent (client), sent → first message back (network + server, plus any time the page's
# main thread was too busy to take the message) and message → DOM change (client: parse, dispatch, React render).
WS_CLOCK_JS = """
(() => {
  const Native = window.WebSocket;
  window.__wsMsgs = [];
  window.__wsSent = [];
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    window.__wsSent.push(performance.now());
    if (window.__wsSent.length > 2000) window.__wsSent.splice(0, 1000);
    return send.call(this, data);
  };
  const Clocked = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', () => {
      window.__wsMsgs.push(performance.now());
      if (window.__wsMsgs.length > 2000) window.__wsMsgs.splice(0, 1000);
    });
    return ws;
  };
  Clocked.prototype = Native.prototype;
  Object.assign(Clocked, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Clocked;
})();
"""

# Click `el` and resolve with [ms until `done()` holds after a DOM mutation, ms until the first WebSocket message in,
# ms until the first WebSocket message out] (-1 after 10 s).
MEASURE_JS = """
async ([selector, index, doneSrc]) => {
  const all = document.querySelectorAll(selector);
  const el = all[index < 0 ? all.length + index : index];
  const done = new Function('el', doneSrc);
  return await new Promise(resolve => {
    let t0 = 0;
    const timer = setTimeout(() => { obs.disconnect(); resolve([-1, -1, -1]); }, 10000);
    const obs = new MutationObserver(() => {
      if (done(el)) {
        const dt = performance.now() - t0;
        obs.disconnect(); clearTimeout(timer);
        const ws = (window.__wsMsgs || []).find(t => t >= t0);
        const sent = (window.__wsSent || []).find(t => t >= t0);
        resolve([dt, ws === undefined ? -1 : ws - t0, sent === undefined ? -1 : sent - t0]);
      }
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
        small = chats.create_context(s, user.id, name="Two items")  # the same UI with a small thread
        chats.add_item(s, small, ItemRole.user, [{"type": "text", "text": "Prompt: a 10 mm cube"}])
        chats.add_item(s, small, ItemRole.assistant, [{"type": "text", "text": "Answer. " + "Some explanation. " * 12}])
        s.commit()
        ctx_id, small_id = str(ctx.id), str(small.id)
    engine_for(db_url).dispose()
    return "ui-bench@example.com", ctx_id, small_id


class FrameLog:
    """The Reflex WebSocket frames a page receives: bytes, and the `substate.var` names the deltas carry."""

    def __init__(self, page) -> None:
        self.bytes = 0
        self.frames = 0
        self.vars: dict[str, int] = {}
        self.first = ""
        self.ws_ms: list[float] = []  # per sample since the last reset: click → first WebSocket message back
        self.sent_ms: list[float] = []  # … click → the event's WebSocket message sent
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        self.bytes += len(text.encode())
        self.frames += 1
        self.first = self.first or text[:200]
        if not text.startswith("42"):
            return
        body = text[2:]
        if body.startswith("/"):  # a namespaced packet: 42/_event,[...]
            body = body.partition(",")[2]
        try:
            name, update = json.loads(body)[:2]
            if isinstance(update, str):
                update = json.loads(update)
        except (ValueError, TypeError):
            return
        if name != "event" or not isinstance(update, dict):
            return
        for substate, fields in (update.get("delta") or {}).items():
            for field in fields or {}:
                key = f"{substate.split('.')[-1]}.{field.removesuffix('_rx_state_')}"
                self.vars[key] = self.vars.get(key, 0) + 1

    def reset(self) -> None:
        self.bytes, self.frames, self.vars, self.first = 0, 0, {}, ""
        self.ws_ms.clear()
        self.sent_ms.clear()

    def summary(self, n: int) -> dict:
        ws = [v for v in self.ws_ms if v >= 0]
        sent = [v for v in self.sent_ms if v >= 0]
        out = {"click_to_event_sent_p50_ms": round(statistics.median(sent), 1) if sent else None,
               "click_to_first_message_p50_ms": round(statistics.median(ws), 1) if ws else None,
               "bytes_per_sample": round(self.bytes / max(n, 1)), "frames_per_sample": round(self.frames / max(n, 1), 1),
               "delta_vars": dict(sorted(self.vars.items()))}
        if self.frames and not self.vars:
            out["first_frame"] = self.first  # a frame format this parser does not know
        return out


SETTLE_MS = 100  # idle time before every click, in every case: each sample starts with the last event's work done


def _samples(page, log: FrameLog, n: int, selector: str, index: int, done_src: str, between=None) -> list[float]:
    out = []
    for _ in range(n):
        page.wait_for_timeout(SETTLE_MS)  # e.g. an optimistic rating's database write, after its DOM change
        dt, ws, sent = page.evaluate(MEASURE_JS, [selector, index, done_src])
        if dt < 0:
            raise RuntimeError(f"no DOM update within 10 s for {selector}")
        out.append(dt)
        log.ws_ms.append(ws)
        log.sent_ms.append(sent)
        if between:
            between()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
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
    lock = open(REPO / ".web.lock", "w", encoding="utf-8")
    app = None
    try:
        db_url = pg.url("postgres")
        email, ctx_id, small_id = _prepare(db_url, args.items)
        fcntl.flock(lock, fcntl.LOCK_EX)  # one running app per checkout: `reflex run` builds into `.web`
        app = AppProcess(data_dir=workdir / "data", database_url=db_url, render_url="http://127.0.0.1:9",
                         env_extra={"RATE_LIMIT_API": "10000/minute", "RATE_LIMIT_LOGIN": "10000/minute"}).start()
        results: dict[str, list[float]] = {}
        beside: dict[str, list[float]] = {}  # case -> the empty-page samples interleaved with it
        load_earlier: list[float] = []
        traffic: dict[str, dict] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)

            def new_page():
                pg = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                pg.add_init_script(WS_CLOCK_JS)
                return pg

            # Baseline: the empty /dev/ping page, one button flipping one state var shown in the page.
            ping = new_page()
            ping_log = FrameLog(ping)
            ping.goto(f"{app.url}/dev/ping", wait_until="networkidle")
            ping.wait_for_selector("#ping-out", timeout=60000)
            # The value before the click is kept in a JS variable, not in the DOM: marking elements (data-*
            # attributes) would itself invalidate style and cost the page a restyle inside the measured window.
            flipped = "return document.querySelector('#ping-out').textContent !== window.__was;"
            mark_ping = "() => { window.__was = document.querySelector('#ping-out').textContent; }"

            def ping_samples(n: int) -> list[float]:  # marked before each click, like the thumbs below
                out = []
                for _ in range(n):
                    ping.evaluate(mark_ping)
                    out += _samples(ping, ping_log, 1, "#ping-button", 0, flipped)
                return out

            def interleaved(name: str, log: FrameLog, take, n: int) -> None:
                """n samples of a case (`take(1)` takes one), each right after one empty-page sample."""
                log.reset()
                values, pings = [], []
                for _ in range(n):
                    pings += ping_samples(1)
                    values += take(1)
                results[name], beside[name], traffic[name] = values, pings, log.summary(n)

            ping_samples(3)  # warm-up
            ping_log.reset()  # from here on it logs the interleaved samples of every case

            # For continuity with earlier runs: the light /login page, a wrong password each time (the form stays put).
            anon = new_page()
            anon_log = FrameLog(anon)
            anon.goto(f"{app.url}/login", wait_until="networkidle")
            anon.fill("#login-form input[name=email]", "nobody@example.com")
            anon.fill("#login-form input[name=password]", "wrong password 123")
            button = "#login-form button[type=submit]"
            busy = "return el.disabled || el.hasAttribute('data-disabled') || el.getAttribute('aria-busy') === 'true';"

            def settle() -> None:  # the post and its answer finish before the next sample
                anon.wait_for_function(f"() => !document.querySelector('{button}').disabled", timeout=15000)
                anon.wait_for_selector("[role=alert]", timeout=15000)

            _samples(anon, anon_log, 3, button, 0, busy, settle)  # warm-up
            # (its traffic includes the posts' answers)
            interleaved("login page: Sign in → loading state", anon_log,
                        lambda k: _samples(anon, anon_log, k, button, 0, busy, settle), args.n)

            # The chat: sign in for real, open the chat with its items.
            page = new_page()
            log = FrameLog(page)
            page.goto(f"{app.url}/login", wait_until="networkidle")
            page.fill("#login-form input[name=email]", email)
            page.fill("#login-form input[name=password]", PASSWORD)
            page.click(button)
            page.wait_for_url("**/chat**", timeout=60000)
            page.goto(f"{app.url}/chat/{ctx_id}", wait_until="networkidle")
            page.wait_for_selector('[aria-label="Good answer"]', timeout=60000)
            thumbs = '[aria-label="Good answer"]'
            flips = "return el.getAttribute('aria-pressed') !== window.__was;"
            mark = f"() => {{ const all = document.querySelectorAll('{thumbs}'); " \
                   f"window.__was = all[all.length - 1].getAttribute('aria-pressed'); }}"

            def rate_samples(n: int) -> list[float]:
                out = []
                for _ in range(n):
                    page.evaluate(mark)
                    out += _samples(page, log, 1, thumbs, -1, flips)
                return out

            for tab in (ping, page):  # a hidden tab would be throttled
                assert tab.evaluate("document.visibilityState") == "visible"
            shown = page.locator(thumbs).count()
            rate_samples(3)
            interleaved(f"chat, {shown * 2} items shown: thumbs up → pressed", log, rate_samples, args.n)

            # "Load earlier" three times, each click → its 50 items in the DOM (page weight as the list grows)
            while page.locator("text=Load earlier").count():
                before = page.locator(thumbs).count()
                page.evaluate("() => [...document.querySelectorAll('button')].find(b => b.textContent.trim() === "
                              "'Load earlier').setAttribute('data-bench', 'load-earlier')")
                more = f"return document.querySelectorAll('{thumbs}').length > {before};"
                dt, _ws, _sent = page.evaluate(MEASURE_JS, ["[data-bench=load-earlier]", 0, more])
                load_earlier.append(round(dt, 1))
            shown = page.locator(thumbs).count()
            rate_samples(3)
            interleaved(f"chat, {shown * 2} items shown: thumbs up → pressed", log, rate_samples, args.n)

            # The same page, a trivial handler (ContextsState.start_rename sets one field): page weight vs handler.
            def cancel() -> None:
                page.click('[aria-label="Cancel rename"]')
                page.wait_for_selector('[aria-label="Chat name"]', state="detached", timeout=15000)

            opened = "return document.querySelector('[aria-label=\"Chat name\"]') !== null;"

            def rename_samples(k: int) -> list[float]:  # (the traffic includes the cancel clicks' deltas)
                return _samples(page, log, k, '[aria-label^="Rename chat"]', 0, opened, cancel)

            rename_samples(3)
            interleaved(f"chat, {shown * 2} items shown: rename → name field (trivial handler)", log,
                        rename_samples, args.n)

            # The same two cases on a chat with 2 items: what the page's size adds, separated from the UI's own cost.
            page.goto(f"{app.url}/chat/{small_id}", wait_until="networkidle")
            page.wait_for_function(f"() => document.querySelector('[data-chat-id=\"{small_id}\"]') && "
                                   f"document.querySelectorAll('{thumbs}').length === 1", timeout=60000)
            rate_samples(3)
            interleaved("chat, 2 items shown: thumbs up → pressed", log, rate_samples, args.n)
            rename_samples(3)
            interleaved("chat, 2 items shown: rename → name field", log, rename_samples, args.n)
            browser.close()
    finally:
        if app:
            app.stop()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    pings = [v for values in beside.values() for v in values]
    results = {"empty page (/dev/ping): toggle → text": pings, **results}
    beside["empty page (/dev/ping): toggle → text"] = pings
    traffic["empty page (/dev/ping): toggle → text"] = ping_log.summary(len(pings))
    table = []
    for name, values in results.items():
        base_p50 = statistics.median(beside[name])
        table.append({"case": name, "n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
                      "empty_page_p50_ms": round(base_p50, 2),
                      "ratio_p50_vs_empty_page": round(statistics.median(values) / base_p50, 2),
                      **traffic.get(name, {})})
    body = {"rows": table, "load_earlier_ms": load_earlier, "target": "chat round trip p50 ≤ 1.5 × the empty page (/dev/ping), sampled interleaved with it",
            "machine": {"cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                        "note": "PostgreSQL, the app and Chromium on one shared host"}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(body, indent=1), encoding="utf-8")
    print("| case | n | p50 ms | p95 ms | empty page beside it, p50 ms | p50 vs empty page | click → sent p50 ms "
          "| click → 1st message p50 ms | bytes received / sample |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in table:
        print(f"| {r['case']} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['empty_page_p50_ms']} "
              f"| {r['ratio_p50_vs_empty_page']}× | {r.get('click_to_event_sent_p50_ms')} "
              f"| {r.get('click_to_first_message_p50_ms')} | {r.get('bytes_per_sample', '')} |")
    print(f"Load earlier (click → 50 more items in the DOM), ms: {load_earlier}")
    for r in table:
        print(f"{r['case']}: delta vars {r.get('delta_vars')}")


if __name__ == "__main__":
    main()

"""Slider change → new mesh in the viewer, in Chromium against the real app, beside the part's bare build time.

    python -m bench.slider_bench [--n 15]

Starts throwaway PostgreSQL, the real render service and the real app (`scripts/dev.sh`, as tests/browser does;
the shared `.web` build is locked), signs a user in, makes the offline plate (the empty chat's "Try: a 80 x 50 x 5
mm plate …" suggestion) and then, --n times, presses → on the `length` slider: one 1 mm step, one new preview.
Each sample runs in the page from just before the key press until the first animation frame after the viewer holds
the new model (its test hook, `window.chat3dViewer`, is rebuilt for a new model) and its size overlay reads the new
length: what a person sees. Everything in between counts: the Reflex event, the parameter rewrite, the render
(`PREVIEW_FORMATS`: GLB and face table, issue 25 item 4), storing the preview, the state delta, fetching and parsing
the GLB, the first frame.

Beside every sample, in this process and on the same minute's CPU, the same program (with that sample's length) is
built bare (`runner.build_job`: the build123d program alone, no sandbox, no export), and built and exported as the
preview asks (`runner.build_and_export` with the preview's formats). The ratio slider → mesh over the bare build is
the row's measure; the difference is what the app, the service and the viewer add.

Also, interleaved, the render service alone (HTTP) for that program with the preview's formats and with every
format a kept version gets: what asking only for the viewer's files saves per slider step.

Writes bench/results/slider.json.
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "slider.json"
PASSWORD = "slider bench horse battery"
EMAIL = "slider-bench@example.com"
PLATE = "a 80 x 50 x 5 mm plate with four 4 mm holes"  # an offline template with named parameters
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]

# Every page notes when a WebSocket message naming the preview's GLB arrives: a sample splits into key press →
# that state delta (the Reflex event, the render, storing the preview) and delta → new mesh drawn (fetching and
# parsing the GLB in the viewer, the first frame).
WS_CLOCK_JS = """
(() => {
  const Native = window.WebSocket;
  window.__glbDeltas = [];
  const Clocked = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      if (typeof e.data === 'string' && e.data.includes('preview_glb_url')) window.__glbDeltas.push(performance.now());
    });
    return ws;
  };
  Clocked.prototype = Native.prototype;
  Object.assign(Clocked, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Clocked;
})();
"""
ARM_JS = "() => { window.__old = window.chat3dViewer; window.__t0 = performance.now(); }"
# Resolves with [ms from the armed key press to the first frame showing the new model, ms to the state delta naming
# the new GLB] ([-1, -1] after 60 s).
WAIT_JS = """(want) => new Promise((resolve) => {
  const tick = () => {
    const v = window.chat3dViewer;
    const overlay = document.querySelector('[data-testid=dims-overlay]');
    const ready = document.querySelector('[data-testid=model-viewer] [data-status=ready]');
    if (v && v !== window.__old && ready && overlay && overlay.textContent.startsWith(want)) {
      requestAnimationFrame(() => {
        const delta = window.__glbDeltas.filter((t) => t >= window.__t0).pop();
        resolve([performance.now() - window.__t0, delta === undefined ? -1 : delta - window.__t0]);
      });
      return;
    }
    if (performance.now() - window.__t0 > 60000) { resolve([-1, -1]); return; }
    requestAnimationFrame(tick);
  };
  tick();
})"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def _prepare(db_url: str) -> None:
    from sqlmodel import Session

    from chat3d.db.engine import engine_for
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.db.models import User
    from chat3d.domain.passwords import hash_password

    upgrade_to_head(db_url)
    with Session(engine_for(db_url)) as s:
        s.add(User(email="root@example.com", role="admin", password_hash=hash_password(PASSWORD)))  # nothing to seed
        s.add(User(email=EMAIL, password_hash=hash_password(PASSWORD)))
        s.commit()
    engine_for(db_url).dispose()


def _current_code(db_url: str) -> str:
    """The plate's program as the app stored it (the version the slider changes)."""
    from sqlmodel import Session, select

    from chat3d.db.engine import engine_for
    from chat3d.db.models import ChatItem, ItemRole
    from chat3d.domain import segments

    with Session(engine_for(db_url)) as s:
        items = s.exec(select(ChatItem).where(ChatItem.role == ItemRole.assistant)
                       .order_by(ChatItem.created_at.desc())).all()
        code = next(str(m.get("code")) for m in (segments.model_of(i.segments) for i in items) if m and m.get("code"))
    engine_for(db_url).dispose()
    return code


def _bare(code: str, formats: tuple[str, ...], work: Path) -> tuple[float, float]:
    """Seconds to build the program alone, and to build and export `formats`, in this process (no sandbox)."""
    from render_service.runner import build_and_export, build_job

    out = work / "bare"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t = time.perf_counter()
    doc = build_job(code, str(out), False, None)
    build = time.perf_counter() - t
    assert doc["ok"], doc
    shutil.rmtree(out)
    out.mkdir()
    t = time.perf_counter()
    doc = build_and_export(code, list(formats), str(out), check=False)
    both = time.perf_counter() - t
    assert doc["ok"], doc
    return build, both


def _service(client, code: str, formats: tuple[str, ...]) -> float:
    from render_service.protocol import decode_result

    t = time.perf_counter()
    r = client.post("/render", json={"code": code, "formats": list(formats)})
    assert r.status_code == 200, r.text[:500]
    decode_result(r.content)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=15)
    args = parser.parse_args()

    os.environ.setdefault("CHAT3D_ENV", "test")
    import httpx
    from playwright.sync_api import sync_playwright

    from chat3d.domain.parameters import apply_parameters
    from chat3d.pipeline.edits import PREVIEW_FORMATS
    from chat3d.pipeline.rendering import MODEL_FORMATS
    from tests.support.app_process import AppProcess, RenderServiceProcess
    from tests.support.live_page import sign_in
    from tests.support.servers import ThrowawayPostgres

    exe = "/usr/bin/chromium"
    if not Path(exe).exists():
        sys.exit("Debian's chromium is missing (apt-get install -y chromium)")
    work = Path(tempfile.mkdtemp(prefix="chat3d-slider-"))
    pg = ThrowawayPostgres().start()
    lock = open(REPO / ".web.lock", "w", encoding="utf-8")
    render = app = None
    samples: dict[str, list[float]] = {"slider_to_mesh": [], "slider_to_glb_delta": [], "bare_build": [], "bare_build_and_preview_export": [],
                                       "service_preview_formats": [], "service_all_formats": []}
    try:
        db_url = pg.url("postgres")
        _prepare(db_url)
        render = RenderServiceProcess().start(work)
        fcntl.flock(lock, fcntl.LOCK_EX)  # one running app per checkout: `reflex run` builds into `.web`
        app = AppProcess(data_dir=work / "data", database_url=db_url, render_url=render.url,
                         render_token=render.token).start()
        with sync_playwright() as pw, httpx.Client(base_url=render.url, timeout=300,
                                                   headers={"Authorization": f"Bearer {render.token}"}) as svc:
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.add_init_script(WS_CLOCK_JS)
            sign_in(page, app.url, EMAIL, PASSWORD)
            page.get_by_role("button", name=f"Try: {PLATE}").click()
            page.wait_for_selector("[data-testid=model-viewer] [data-status=ready]", timeout=180_000)
            page.wait_for_function("() => (document.querySelector('[data-testid=dims-overlay]') || {}).textContent"
                                   " === '80.0 × 50.0 × 5.0 mm'", timeout=60_000)
            code = _current_code(db_url)
            slider = page.get_by_test_id("parameters-panel").get_by_role("slider", name="length (mm)")
            slider.focus()
            length = 80
            for i in range(args.n + 2):  # the first two warm the path up and are not counted
                length += 1
                page.wait_for_timeout(300)  # the last preview's clean-up (the replaced preview's files) is done
                page.evaluate(ARM_JS)
                slider.press("ArrowRight")
                dt, delta = page.evaluate(WAIT_JS, f"{length:.1f} ×")
                if dt < 0:
                    raise RuntimeError(f"no new mesh within 60 s for length {length}")
                program = apply_parameters(code, {"length": float(length)})
                build, both = _bare(program, PREVIEW_FORMATS, work)
                preview = _service(svc, program, PREVIEW_FORMATS)
                full = _service(svc, program, MODEL_FORMATS)
                if i < 2:
                    continue
                for key, value in (("slider_to_mesh", dt), ("slider_to_glb_delta", delta), ("bare_build", build * 1e3),
                                   ("bare_build_and_preview_export", both * 1e3),
                                   ("service_preview_formats", preview * 1e3), ("service_all_formats", full * 1e3)):
                    samples[key].append(value)
                print(f"length {length} mm: slider → mesh {dt:.0f} ms (state delta at {delta:.0f} ms); bare build {build * 1e3:.0f} ms "
                      f"(+ preview export {both * 1e3:.0f} ms); service {preview * 1e3:.0f} ms "
                      f"(all formats {full * 1e3:.0f} ms)", file=sys.stderr)
            browser.close()
    finally:
        if app:
            app.stop()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        if render:
            render.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    p50 = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    body = {
        "n": args.n, "part": PLATE, "preview_formats": list(PREVIEW_FORMATS), "all_formats": list(MODEL_FORMATS),
        "p50_ms": p50, "p95_ms": {k: pct(v, 95) for k, v in samples.items()},
        "ratio_slider_to_mesh_vs_bare_build": round(p50["slider_to_mesh"] / p50["bare_build"], 2),
        "added_ms_over_bare_build": round(p50["slider_to_mesh"] - p50["bare_build"], 1),
        "service_all_vs_preview_formats": round(p50["service_all_formats"] / p50["service_preview_formats"], 2),
        "samples_ms": {k: [round(x, 1) for x in v] for k, v in samples.items()},
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                    "note": "PostgreSQL, the render service, the app and Chromium on one shared host"},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(body, indent=1), encoding="utf-8")
    print("| measure | p50 ms | p95 ms |\n| --- | --- | --- |")
    for k in samples:
        print(f"| {k.replace('_', ' ')} | {p50[k]} | {body['p95_ms'][k]} |")
    print(f"slider → mesh / bare build: {body['ratio_slider_to_mesh_vs_bare_build']} × "
          f"(+{body['added_ms_over_bare_build']} ms); render service, all formats / preview formats: "
          f"{body['service_all_vs_preview_formats']} ×")


if __name__ == "__main__":
    main()

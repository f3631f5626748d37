"""One table for the whole `make bench` run, read from the JSON every benchmark writes to bench/results/.

    python -m bench.summary [--results DIR]      # print the table; exit 1 if any target was missed
    python -m bench.summary --record-start       # scripts/bench.sh, before the first benchmark

Every row says its measure, its target, what was measured, whether the target was met (yes / no / — for
a row without a target) and the time of the results file it came from (the file's modification time, UTC;
"before this run" when older than the start scripts/bench.sh recorded). A missing results file gives a
"not run" row; an unreadable or incomplete one says so. The header line gives the machine's CPUs and
memory, the load average at the start of the run (when recorded) and now, and the date.

Exit code: 0 when every target that has a result was met, 1 when any was missed ("TARGETS MISSED: …" is
printed after the table either way). Rows that were not run do not count as missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
RUN_FILE = "run.json"  # written by --record-start: when scripts/bench.sh started and the load average then

Row = tuple[str, str, str, "bool | None", str]  # measure, target, measured, met (None: no target), source


def _num(x) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _f(x, digits: int = 1) -> str:
    v = _num(x)
    if v is None:
        return "?"
    return f"{v:,.{digits}f}"


def _signed(x) -> str:
    v = _num(x)
    return "?" if v is None else f"{v:+.1f}"


def _le(x, limit: float) -> bool:
    v = _num(x)
    return v is not None and v <= limit


def _ge(x, limit: float) -> bool:
    v = _num(x)
    return v is not None and v >= limit


def _zero(x) -> bool:
    return x == 0 and not isinstance(x, bool)


# --- one function per benchmark: its JSON → rows (measure, target, measured, met) ------------------------


def render_rows(d: dict) -> list[tuple]:
    s = d["summary"]
    runs = f"{s.get('parts', '?')} parts × {s.get('reps', '?')} reps"
    rows = [
        (f"render p50 per part at concurrency 1, bare / baseline / ours ({runs})", "—",
         f"{_f(s['bare_p50_ms'], 0)} / {_f(s['baseline_p50_ms'], 0)} / {_f(s['ours_p50_ms'], 0)} ms", None),
        ("render p95 per part at concurrency 1, bare / baseline / ours", "—",
         f"{_f(s['bare_p95_ms'], 0)} / {_f(s['baseline_p95_ms'], 0)} / {_f(s['ours_p95_ms'], 0)} ms", None),
        ("render corpus p50 ratio ours / bare", "≤ 1.15 ×",
         f"{_f(s['ours_p50_ms'], 0)} vs {_f(s['bare_p50_ms'], 0)} ms = **{_f(s['p50_ratio_ours_vs_bare'], 3)} ×**",
         _le(s["p50_ratio_ours_vs_bare"], 1.15)),
        ("render median over parts of (ours − bare)", "≤ 60 ms",
         f"**{_signed(s['median_overhead_ms'])} ms**",
         _le(s["median_overhead_ms"], 60)),
    ]
    if "total_ratio_ours_vs_bare" in s:
        rows.append(("render corpus total at concurrency 1, ours / bare", "≤ 1.15 ×",
                     f"{_f(s.get('ours_total_s'), 1)} vs {_f(s.get('bare_total_s'), 1)} s = "
                     f"**{_f(s['total_ratio_ours_vs_bare'], 3)} ×**",
                     _le(s["total_ratio_ours_vs_bare"], 1.15)))
    ft = s.get("face_table")
    if ft:  # issue 27: the post step's face/edge table and GLB tagging
        rows.append(("render: face/edge table's added cost, share of the corpus total (ours)", "≤ 10 %",
                     f"{_f(ft.get('total_s'), 2)} of {_f(s.get('ours_total_s'), 1)} s = **{_f(ft.get('pct_of_corpus_total'), 1)} %**",
                     _le(ft.get("pct_of_corpus_total"), 10)))
    rv = s.get("review_views")
    if rv:  # issue 23 item 2: the views sheet a vision model reviews (drawn only then)
        rows.append(("render: review views' added cost (only with a vision reviewer), median per part", "—",
                     f"{_f(rv.get('median_ms'), 0)} ms; {_f(rv.get('pct_of_corpus_total'), 1)} % of the corpus total",
                     None))
    tp = s.get("throughput_c4")
    if tp:
        conc = tp.get("concurrency", 4)
        base, ours = tp["baseline"], tp["ours"]
        errors = (base.get("errors") or 0) + (ours.get("errors") or 0)
        rows.append((f"render throughput at concurrency {conc}, ours vs in-process exec baseline "
                     f"({ours.get('jobs', '?')} jobs each)", "≥ 1.5 ×, no errors",
                     f"{_f(ours['jobs_per_s'], 2)} vs {_f(base['jobs_per_s'], 2)} jobs/s = **{_f(tp['ratio'], 2)} ×**"
                     f" ({ours.get('errors', '?')} / {base.get('errors', '?')} errors)"
                     + (f"; median of pairs {tp['ratios_of_all_pairs']}" if tp.get("ratios_of_all_pairs") else ""),
                     _ge(tp["ratio"], 1.5) and errors == 0))
        cpu = tp.get("cpu_s_median")
        if cpu:
            rows.append(("… where the machine's CPU went during one corpus, baseline / ours (median; diagnostic)", "—",
                         "; ".join(f"{k} {_f(cpu['baseline'][k], 2)} / {_f(cpu['ours'][k], 2)} s"
                                   for k in ("user", "system", "idle", "steal")), None))
    else:
        rows.append(("render throughput at concurrency 4, ours vs in-process exec baseline", "≥ 1.5 ×",
                     "not measured (a --quick run)", None))
    return rows


def pipeline_rows(d: dict) -> list[tuple]:
    o = d["overhead_ms"]
    limit = _num(d.get("target_overhead_p50_ms")) or 300
    return [("pipeline overhead: submit → completed minus render time, zero-latency model, p50 / p95",
             f"p50 ≤ {limit:g} ms",
             f"p50 **{_f(o['p50'], 0)} ms**, p95 {_f(o['p95'], 0)} ms (n = {d.get('n', '?')})",
             _le(o["p50"], limit))]


def sse_rows(d: dict) -> list[tuple]:
    lat = d["latency_ms"]
    rate = _num(d.get("target_rate_per_s")) or 0
    achieved = _num(d.get("achieved_rate_per_s"))
    label = f"SSE: {d.get('streams', '?'):,} streams on one worker, {rate:g} ev/s for {_f(d.get('duration_s'), 0)} s" \
        if isinstance(d.get("streams"), int) else f"SSE: {rate:g} ev/s"
    lost, dup, mis = d["lost"], d.get("duplicates"), d.get("misrouted")
    failed = d.get("publish_failed")
    rows = [
        (f"{label} — publish → receive p50 / p99", "p99 ≤ 50 ms",
         f"p50 {_f(lat['p50'], 1)} ms, **p99 {_f(lat['p99'], 1)} ms** (max {_f(lat.get('max'), 0)} ms)",
         _le(lat["p99"], 50)),
        ("SSE publish rate achieved", f"≥ 95 % of {rate:g}/s",
         f"{_f(achieved, 1)}/s ({_f(d.get('events_published'), 0)} events published"
         + (f", {failed} failed to publish" if failed else "") + ")",
         _ge(achieved, 0.95 * rate) if rate else None),
        ("SSE lost / duplicated / misrouted", "0 / 0 / 0",
         f"**{lost} / {dup if dup is not None else '?'} / {mis if mis is not None else '?'}**"
         + (f" ({failed} of the lost never published)" if failed else ""),
         _zero(lost) and _zero(dup) and _zero(mis)),
        ("SSE memory per stream", "—",
         f"{_f(d.get('memory_per_stream_kb'), 1)} KB (after the run {_f(d.get('memory_per_stream_after_run_kb'), 1)} KB)",
         None),
    ]
    return rows


def _items(case: str) -> int:
    try:
        return int(case.split(" items")[0].rsplit(" ", 1)[-1])
    except ValueError:
        return -1


def ui_rows(d: dict) -> list[tuple]:
    cases = d["rows"]
    base = next((r for r in cases if r["case"].startswith("empty page")), None)
    # The headline first: thumbs up on the biggest chat; then every other case in the bench's order.
    thumbs = [r for r in cases if r["case"].startswith("chat") and "thumbs up" in r["case"]]
    first = max(thumbs, key=lambda r: _items(r["case"]), default=None)
    ordered = ([first] if first else []) + [r for r in cases if r is not first]
    rows = []
    for r in ordered:
        ratio = r.get("ratio_p50_vs_empty_page")
        # the empty page sampled beside this case (interleaved), else the run's one empty-page row
        beside = r.get("empty_page_p50_ms", base["p50_ms"] if base else None)
        base_ms = f" ({_f(beside, 1)} ms)" if beside is not None else ""
        measured = f"p50 {_f(r['p50_ms'], 1)} ms, p95 {_f(r['p95_ms'], 1)} ms"
        if r is base:
            rows.append((f"UI round trip: {r['case']} (the baseline)", "—", measured, None))
        elif r["case"].startswith("chat"):
            rows.append((f"UI round trip: {r['case']}", "≤ 1.5 × empty page",
                         f"{measured} = **{_f(ratio, 2)} ×** the empty page{base_ms}", _le(ratio, 1.5)))
        else:
            rows.append((f"UI round trip: {r['case']}", "—", f"{measured} = {_f(ratio, 2)} × the empty page", None))
    return rows


def load_rows(d: dict) -> list[tuple]:
    c = d["counts"]
    lat = d["submit_to_completed_ms"]
    completed = (d.get("final_states") or {}).get("completed", 0)
    unexpected, lost, stuck = d["unexpected_errors"], d["lost"], d.get("stuck")
    label = (f"load: {d.get('users', '?')} users (HTTP + SSE), a prompt every {_f(d.get('interval_s'), 0)} s "
             f"for {_f(d.get('duration_s'), 0)} s")
    return [
        (label, "0 unexpected errors, 0 lost, 0 stuck",
         f"{c.get('accepted', 0)} accepted, {completed} completed; {c.get('refused_429', 0)} × 429, "
         f"{c.get('refused_503', 0)} × 503; **{unexpected} unexpected** ({d.get('stream_errors', '?')} stream errors), "
         f"**{lost} lost**, {stuck if stuck is not None else '?'} stuck",
         _zero(unexpected) and _zero(lost) and (stuck is None or _zero(stuck))),
        ("load: submit → completed p50 / p95", "—",
         f"p50 {_seconds(lat.get('p50'))} s, p95 {_seconds(lat.get('p95'))} s", None),
    ]


def _seconds(ms) -> str:
    v = _num(ms)
    return "?" if v is None else f"{v / 1000:.1f}"


def fuzz_rows(d: dict) -> list[tuple]:
    requests, errors = d.get("requests"), d.get("server_errors")
    new = [f for f in d.get("findings", []) if not str(f.get("check", "")).startswith("500 known")]
    measured = f"{requests:,} requests, **{errors} × 5xx**" if isinstance(requests, int) and requests \
        else "no requests recorded (the fuzz run did not write its report)"
    measured += f", {len(new)} new findings"
    if d.get("pytest_exit_code"):
        measured += f" (pytest exit code {d['pytest_exit_code']})"
    label = f"API fuzzing, long run ({d.get('operations', '?')} operations × ≤ {d.get('max_examples', '?')} examples)"
    return [(label, "0 × 5xx", measured, bool(requests) and _zero(errors))]


def slider_rows(d: dict) -> list[tuple]:
    p50, p95 = d["p50_ms"], d["p95_ms"]
    return [
        (f"slider change → new mesh in the viewer (Chromium, {d.get('n', '?')} steps of the offline plate), "
         "against the part's bare build", "—",
         f"p50 **{_f(p50['slider_to_mesh'], 0)} ms** (p95 {_f(p95['slider_to_mesh'], 0)} ms) vs bare build "
         f"{_f(p50['bare_build'], 0)} ms = **{_f(d['ratio_slider_to_mesh_vs_bare_build'], 1)} ×** "
         f"(+{_f(d['added_ms_over_bare_build'], 0)} ms); bare build + the preview's export "
         f"{_f(p50['bare_build_and_preview_export'], 0)} ms"
         + (f"; the state delta naming the new GLB arrives at {_f(p50['slider_to_glb_delta'], 0)} ms"
            if "slider_to_glb_delta" in p50 else ""), None),
        ("… the render service alone per step: the preview's formats / every format a version keeps", "—",
         f"{_f(p50['service_preview_formats'], 0)} / {_f(p50['service_all_formats'], 0)} ms "
         f"({_f(d['service_all_vs_preview_formats'], 2)} ×)", None),
    ]


BENCHES = [
    ("render service (bench.render_bench)", "render.json", render_rows),
    ("pipeline overhead (bench.pipeline_bench)", "pipeline.json", pipeline_rows),
    ("SSE fan-out (bench/sse_bench.py)", "sse.json", sse_rows),
    ("UI round trip (bench.ui_bench)", "ui.json", ui_rows),
    ("slider change → new mesh (bench.slider_bench)", "slider.json", slider_rows),
    ("load (bench.load_bench)", "load.json", load_rows),
    ("API fuzzing, long run (bench.fuzz_bench)", "fuzz.json", fuzz_rows),
]


# --- assembling ----------------------------------------------------------------------------------------


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _loadavg(d: dict) -> str | None:
    m = d.get("machine") or {}
    before = m.get("loadavg_before")
    end = m.get("loadavg_at_end")
    end = end if end is not None else (d.get("summary") or {}).get("load_avg_1m_at_end")
    first = lambda v: v[0] if isinstance(v, list) and v else v  # noqa: E731
    if end is None:
        return None
    return f"{_f(first(before), 1)} → {_f(first(end), 1)}" if before is not None else f"{_f(first(end), 1)} at end"


def collect(results: Path) -> tuple[list[Row], list[str]]:
    run = {}
    try:
        run = json.loads((results / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    started = _num(run.get("started_at"))
    rows: list[Row] = []
    loads: list[str] = []
    for title, name, fn in BENCHES:
        path = results / name
        if not path.exists():
            rows.append((title, "—", f"not run (no {name})", None, "—"))
            continue
        mtime = path.stat().st_mtime
        source = _stamp(mtime) + (" (before this run)" if started is not None and mtime < started else "")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            rows.append((title, "—", f"not run (unreadable {name}: {exc})", None, source))
            continue
        try:
            for measure, target, measured, met in fn(data):
                rows.append((measure, target, measured, met, source))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            rows.append((title, "—", f"not run (incomplete {name}: {type(exc).__name__} {exc})", None, source))
            continue
        load = _loadavg(data) if isinstance(data, dict) else None
        if load:
            loads.append(f"{name.removesuffix('.json')} {load}")
    return rows, loads


def machine_line(results: Path) -> str:
    try:
        run = json.loads((results / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run = {}
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    start = run.get("loadavg")
    start_s = (f"{_f(start[0], 2)} ({_stamp(run['started_at'])})"
               if isinstance(start, list) and start and _num(run.get("started_at")) is not None
               else "not recorded (scripts/bench.sh records it)")
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"Machine: {nproc} CPUs (nproc; {os.cpu_count()} on the host), {mem} memory; load average (1 min) at the start of the run "
            f"{start_s}, now (the end) {os.getloadavg()[0]:.2f}; date {_stamp(time.time())}.")


def render_table(rows: list[Row]) -> str:
    lines = ["| measure | target | measured | met | result file |", "| --- | --- | --- | --- | --- |"]
    for measure, target, measured, met, source in rows:
        mark = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {measure} | {target} | {measured} | {mark} | {source} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="directory of the benchmarks' JSON (bench/results)")
    ap.add_argument("--record-start", action="store_true",
                    help="record the start of a run (time, load average) and exit; scripts/bench.sh does this")
    args = ap.parse_args(argv)
    if args.record_start:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / RUN_FILE).write_text(json.dumps(
            {"started_at": time.time(), "loadavg": list(os.getloadavg()), "cpus": os.cpu_count()}, indent=1), encoding="utf-8")
        return 0

    rows, loads = collect(args.results)
    print("### Benchmark summary\n")
    print(machine_line(args.results))
    if loads:
        print(f"Load averages the benchmarks recorded: {'; '.join(loads)}.")
    print()
    print(render_table(rows))
    print()
    missed = [r[0] for r in rows if r[3] is False]
    not_run = [r[0] for r in rows if r[2].startswith("not run")]
    checked = sum(1 for r in rows if r[3] is not None)
    if not_run:
        print(f"not run: {'; '.join(not_run)}")
    if missed:
        print(f"TARGETS MISSED ({len(missed)} of {checked}): {'; '.join(missed)}")
        return 1
    if checked:
        print(f"all targets met ({checked} rows with a target and a result)")
    else:
        print("no target checked: no benchmark result to read")
    return 0


if __name__ == "__main__":
    sys.exit(main())

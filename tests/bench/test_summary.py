"""bench/summary.py: one table from the benchmarks' result JSON (fabricated here), met / missed / not run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from calendar import timegm
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAMP = timegm((2026, 11, 22, 3, 49, 0))  # 2026-11-22 03:49 UTC


def good_results() -> dict[str, dict]:
    """Every benchmark's JSON, shaped as each bench writes it, with every target met."""
    return {
        "render.json": {"rows": [], "summary": {
            "parts": 22, "reps": 4, "load_avg_1m_at_end": 1.8,
            "bare_p50_ms": 88.0, "baseline_p50_ms": 95.0, "ours_p50_ms": 101.0,
            "bare_p95_ms": 400.0, "baseline_p95_ms": 420.0, "ours_p95_ms": 410.0,
            "p50_ratio_ours_vs_bare": 1.14, "median_overhead_ms": 7.1,
            "bare_total_s": 12.7, "baseline_total_s": 13.0, "ours_total_s": 11.6, "total_ratio_ours_vs_bare": 0.914,
            "throughput_c4": {"concurrency": 4, "ratio": 1.58,
                              "baseline": {"jobs": 44, "errors": 0, "jobs_per_s": 1.58},
                              "ours": {"jobs": 44, "errors": 0, "jobs_per_s": 2.51}}}},
        "pipeline.json": {"n": 30, "overhead_ms": {"p50": 100.0, "p95": 126.0, "mean": 105.0},
                          "target_overhead_p50_ms": 300},
        "sse.json": {"streams": 1000, "target_rate_per_s": 500, "duration_s": 20, "events_published": 10000,
                     "achieved_rate_per_s": 499.0, "lost": 0, "duplicates": 0, "misrouted": 0, "publish_failed": 0,
                     "latency_ms": {"p50": 3.6, "p90": 9.0, "p99": 16.9, "max": 137.0},
                     "memory_per_stream_kb": 94.0, "memory_per_stream_after_run_kb": 96.0,
                     "machine": {"loadavg_at_end": [0.8, 0.5, 0.4]}},
        "ui.json": {"rows": [
            {"case": "empty page (/dev/ping): toggle → text", "p50_ms": 3.5, "p95_ms": 5.0, "ratio_p50_vs_empty_page": 1.0},
            {"case": "login page: Sign in → loading state", "p50_ms": 5.3, "p95_ms": 7.0, "ratio_p50_vs_empty_page": 1.51},
            {"case": "chat, 50 items shown: thumbs up → pressed", "p50_ms": 4.5, "p95_ms": 5.9, "ratio_p50_vs_empty_page": 1.29},
            {"case": "chat, 200 items shown: thumbs up → pressed", "p50_ms": 4.7, "p95_ms": 9.7, "ratio_p50_vs_empty_page": 1.34},
            {"case": "chat, 2 items shown: rename → name field", "p50_ms": 5.0, "p95_ms": 6.0, "ratio_p50_vs_empty_page": 1.43},
        ]},
        "slider.json": {"n": 15, "p50_ms": {"slider_to_mesh": 420.0, "bare_build": 60.0, "bare_build_and_preview_export": 95.0,
                                            "service_preview_formats": 150.0, "service_all_formats": 330.0},
                        "p95_ms": {"slider_to_mesh": 610.0}, "ratio_slider_to_mesh_vs_bare_build": 7.0,
                        "added_ms_over_bare_build": 360.0, "service_all_vs_preview_formats": 2.2},
        "load.json": {"users": 50, "interval_s": 10, "duration_s": 120,
                      "counts": {"accepted": 598, "refused_429": 3, "refused_503": 0},
                      "final_states": {"completed": 598}, "unexpected_errors": 0, "stream_errors": 0,
                      "lost": 0, "stuck": 0, "submit_to_completed_ms": {"p50": 2000.0, "p95": 6300.0, "max": 9000.0}},
        "fuzz.json": {"operations": 79, "max_examples": 100, "requests": 8518, "server_errors": 0, "findings": [],
                      "pytest_exit_code": 0},
    }


def write(tmp: Path, results: dict[str, dict | str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, body in results.items():
        path = tmp / name
        path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
        os.utime(path, (STAMP, STAMP))
    return tmp


def summarise(results_dir: Path) -> tuple[int, str, dict[str, list[str]]]:
    """Run `python -m bench.summary --results DIR`; return its exit code, output and rows by measure."""
    proc = subprocess.run([sys.executable, "-m", "bench.summary", "--results", str(results_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| measure") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 5, line
            rows[cells[0]] = cells[1:]  # target, measured, met, result file
    return proc.returncode, proc.stdout, rows


def row(rows: dict[str, list[str]], *words: str) -> list[str]:
    hits = [cells for measure, cells in rows.items() if all(w in measure for w in words)]
    assert len(hits) == 1, (words, list(rows))
    return hits[0]


def met(rows, *words) -> str:
    return row(rows, *words)[2]


def test_every_target_met(tmp_path: Path) -> None:
    code, out, rows = summarise(write(tmp_path, good_results()))
    assert code == 0, out
    assert "TARGETS MISSED" not in out
    for words in [("corpus p50 ratio",), ("median over parts",), ("throughput",), ("pipeline overhead",),
                  ("SSE", "p99"), ("SSE lost",), ("200 items", "thumbs up"), ("50 items", "thumbs up"),
                  ("2 items", "rename"), ("load:", "users"), ("fuzzing",)]:
        assert met(rows, *words) == "yes", words
    # Rows without a target say so, and the /login page's 1.51 × is not judged.
    assert met(rows, "render p50 per part") == "—"
    assert met(rows, "login page") == "—"
    assert met(rows, "SSE memory per stream") == "—"
    slider = row(rows, "slider change → new mesh")
    assert slider[2] == "—" and "p50 **420 ms**" in slider[1] and "**7.0 ×**" in slider[1] and "(+360 ms)" in slider[1]
    assert "150 / 330 ms (2.20 ×)" in row(rows, "render service alone per step")[1]
    assert "101" in row(rows, "render p50 per part")[1] and "88" in row(rows, "render p50 per part")[1]
    # Each row names the time of the file it came from.
    assert row(rows, "fuzzing")[3].startswith("2026-11-22 03:49 UTC")
    assert "nproc" in out and "memory" in out


def test_missing_results_are_not_run_rows(tmp_path: Path) -> None:
    results = good_results()
    del results["sse.json"], results["fuzz.json"]
    code, out, rows = summarise(write(tmp_path, results))
    assert code == 0, out
    sse = row(rows, "SSE fan-out")
    assert sse[1].startswith("not run") and sse[2] == "—"
    assert row(rows, "API fuzzing")[1].startswith("not run")
    assert met(rows, "pipeline overhead") == "yes"


def test_empty_results_dir(tmp_path: Path) -> None:
    code, out, rows = summarise(tmp_path / "nothing-here")
    assert code == 0, out
    assert len(rows) == 7 and all(cells[1].startswith("not run") for cells in rows.values())


def test_unreadable_or_incomplete_result_is_not_a_crash(tmp_path: Path) -> None:
    results = good_results()
    results["load.json"] = "{ not json"
    results["pipeline.json"] = {"n": 30}  # an older or broken file without the overhead
    code, out, rows = summarise(write(tmp_path, results))
    assert code == 0, out
    assert row(rows, "load (bench.load_bench)")[1].startswith("not run")
    assert row(rows, "pipeline overhead (bench.pipeline_bench)")[1].startswith("not run")


@pytest.mark.parametrize(("name", "change", "words"), [
    ("render.json", lambda d: d["summary"].update(p50_ratio_ours_vs_bare=1.16), ("corpus p50 ratio",)),
    ("render.json", lambda d: d["summary"].update(median_overhead_ms=61.0), ("median over parts",)),
    ("render.json", lambda d: d["summary"]["throughput_c4"].update(ratio=1.49), ("throughput",)),
    ("pipeline.json", lambda d: d["overhead_ms"].update(p50=301.0), ("pipeline overhead",)),
    ("sse.json", lambda d: d["latency_ms"].update(p99=50.1), ("SSE", "p99")),
    ("sse.json", lambda d: d.update(lost=1), ("SSE lost",)),
    ("sse.json", lambda d: d.update(achieved_rate_per_s=300.0), ("SSE publish rate",)),
    ("ui.json", lambda d: d["rows"][3].update(ratio_p50_vs_empty_page=1.6), ("200 items", "thumbs up")),
    ("ui.json", lambda d: d["rows"][4].update(ratio_p50_vs_empty_page=2.91), ("2 items", "rename")),
    ("load.json", lambda d: d.update(unexpected_errors=2), ("load:", "users")),
    ("load.json", lambda d: d.update(lost=1), ("load:", "users")),
    ("fuzz.json", lambda d: d.update(server_errors=3), ("fuzzing",)),
    ("fuzz.json", lambda d: d.update(requests=0), ("fuzzing",)),
])
def test_a_missed_target_is_no_and_fails(tmp_path: Path, name, change, words) -> None:
    results = good_results()
    change(results[name])
    code, out, rows = summarise(write(tmp_path, results))
    assert met(rows, *words) == "**no**"
    assert code == 1
    missed = [line for line in out.splitlines() if line.startswith("TARGETS MISSED")]
    assert len(missed) == 1 and "(1 of" in missed[0]
    # Only that row is marked missed.
    assert sum(cells[2] == "**no**" for cells in rows.values()) == 1


def test_limits_are_inclusive(tmp_path: Path) -> None:
    results = good_results()
    results["render.json"]["summary"]["p50_ratio_ours_vs_bare"] = 1.15
    results["ui.json"]["rows"][3]["ratio_p50_vs_empty_page"] = 1.5
    results["sse.json"]["latency_ms"]["p99"] = 50.0
    code, out, rows = summarise(write(tmp_path, results))
    assert code == 0, out
    assert met(rows, "corpus p50 ratio") == met(rows, "200 items", "thumbs up") == met(rows, "SSE", "p99") == "yes"


def test_record_start_goes_in_the_header(tmp_path: Path) -> None:
    write(tmp_path, good_results())
    subprocess.run([sys.executable, "-m", "bench.summary", "--results", str(tmp_path), "--record-start"],
                   cwd=REPO, check=True, timeout=60)
    _code, out, rows = summarise(tmp_path)
    assert "not recorded" not in out.split("\n\n")[1]
    # The fabricated files are older than the recorded start: each row says so.
    assert "before this run" in row(rows, "fuzzing")[3]


def test_ui_rows_name_the_empty_page_sampled_beside_them(tmp_path: Path) -> None:
    """Interleaved runs record each case's own empty-page p50; a row shows that figure, not the run's overall one."""
    results = good_results()
    results["ui.json"]["rows"][3]["empty_page_p50_ms"] = 4.2
    _code, out, rows = summarise(write(tmp_path, results))
    assert "the empty page (4.2 ms)" in row(rows, "200 items", "thumbs up")[1]
    assert "the empty page (3.5 ms)" in row(rows, "50 items", "thumbs up")[1]  # older file: the run's empty-page row


def test_render_cpu_split_is_shown_beside_the_throughput_and_not_judged(tmp_path: Path) -> None:
    results = good_results()
    results["render.json"]["summary"]["throughput_c4"]["cpu_s_median"] = {
        "baseline": {"user": 6.79, "system": 0.33, "idle": 4.53, "steal": 0.0},
        "ours": {"user": 6.84, "system": 0.96, "idle": 0.75, "steal": 0.0},
    }
    code, out, rows = summarise(write(tmp_path, results))
    assert code == 0, out
    cells = row(rows, "where the machine's CPU went")
    assert cells[0] == "—" and cells[2] == "—"
    assert "system 0.33 / 0.96 s" in cells[1] and "idle 4.53 / 0.75 s" in cells[1]
    # Without the split (results of an older bench) there is no such row.
    code, _, rows = summarise(write(tmp_path / "old", good_results()))
    assert code == 0 and not [m for m in rows if "CPU went" in m]

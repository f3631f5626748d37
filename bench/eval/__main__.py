"""`python -m bench.eval`: generation quality on a benchmark suite, through the real pipeline.

    python -m bench.eval --suite cadqueryeval --models offline --limit 25 --json bench/results/eval.json
    OPENAI_API_KEY=… python -m bench.eval --models offline,gpt-4.1-mini

Starts a throwaway PostgreSQL and the render service (as bench/pipeline_bench.py does), runs every task of
the suite as a user prompt with each model, scores the stored STL against the reference, prints a table
and writes the JSON result. Models come from the registry (LLM_MODELS_FILE and API keys in the
environment); see docs/generation-quality.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.eval import harness, metrics  # noqa: E402
from bench.eval.suite import SUITES, load_tasks, published_results  # noqa: E402


def _code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _fmt(v, digits: int = 2, pct: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v * 100:.0f} %" if pct else f"{v:.{digits}f}"


def print_tables(result: dict, console) -> None:
    from rich.table import Table

    for block in result["models"]:
        t = Table(title=f"{result['suite']} — {block['model']} (per task)")
        for col in ("task", "valid", "pass", "Chamfer mm", "H95 mm", "IoU", "repairs", "reviews", "tokens", "cost $", "s", "note"):
            t.add_column(col, justify="left" if col in ("task", "note") else "right")
        for r in block["tasks"]:
            s = r["score"] or {}
            t.add_row(r["task"], "yes" if r["valid_solid"] else "no", "yes" if r["passed"] else "no",
                      _fmt(s.get("chamfer_mm")), _fmt(s.get("hausdorff95_mm")), _fmt(s.get("iou")),
                      str(r["repair_rounds"]), str(r["review_rounds"]), str(r["input_tokens"] + r["output_tokens"]),
                      _fmt(r["cost_usd"], 4), _fmt(r["seconds"], 1), (r["error"] or "")[:60])
        console.print(t)
    t = Table(title=f"{result['suite']} — overall ({result['code_version']})")
    for col in ("model", "tasks", "valid solid", "pass (accuracy)", "Chamfer mm (median)", "H95 mm (median)",
                "IoU (mean)", "repairs", "reviews", "tokens in/out", "cost $", "$ / valid part", "s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for block in result["models"]:
        m = block["summary"]
        t.add_row(block["model"], str(m["tasks"]), f"{m['valid_solids']} ({_fmt(m['valid_rate'], pct=True)})",
                  f"{m['passed']} ({_fmt(m['accuracy'], 2)})", _fmt(m["chamfer_mm_median"]),
                  _fmt(m["hausdorff95_mm_median"]), _fmt(m["iou_mean"]), str(m["repair_rounds"]), str(m["review_rounds"]),
                  f"{m['input_tokens']}/{m['output_tokens']}", _fmt(m["cost_usd"], 4),
                  _fmt(m["cost_per_valid_part_usd"], 4), _fmt(m["seconds"], 1))
    console.print(t)
    if result.get("stopped"):
        console.print(f"[yellow]Stopped early:[/yellow] {result['stopped']}.")
    best = result["published"][0] if result["published"] else None
    if best:
        console.print(f"Published best one-shot accuracy on {result['suite']}: {best['model_id']} "
                      f"{float(best['accuracy']):.2f} (cost ${float(best['cost_usd']):.2f} for the suite).")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="cadqueryeval", choices=SUITES)
    ap.add_argument("--models", default="offline",
                    help="comma-separated model ids from the registry; 'offline' is the offline provider; "
                         "CONVERSATION+CODEGEN picks a different model per stage")
    ap.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    ap.add_argument("--tasks", default="", help="comma-separated task ids (e.g. task8,task9)")
    ap.add_argument("--json", dest="json_out", type=Path, default=None, help="write the result here")
    ap.add_argument("--max-cost", type=float, default=None, metavar="USD",
                    help="start no further task once the run has cost this much (paid models)")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console() if sys.stdout.isatty() else Console(width=200)  # logs keep whole table rows
    try:
        choices = harness.parse_models(args.models)
        tasks = load_tasks(args.suite, [t.strip() for t in args.tasks.split(",") if t.strip()] or None)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if args.limit is not None:
        if args.limit < 1:
            console.print("[red]error:[/red] --limit must be at least 1")
            return 2
        tasks = tasks[: args.limit]

    os.environ.setdefault("CHAT3D_ENV", "test")
    try:  # before any service starts: a missing key is a clear error at once
        harness.check_models(choices)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2

    from tests.support.app_process import RenderServiceProcess
    from tests.support.servers import ThrowawayPostgres

    tmp = Path(tempfile.mkdtemp(prefix="chat3d-eval-"))
    pg = ThrowawayPostgres().start()
    render = RenderServiceProcess().start(tmp)
    try:
        # The harness's own services; budgets and per-user limits are off (one user runs every task).
        os.environ.update(DATABASE_URL=pg.url(), DATA_DIR=str(tmp / "data"), RENDER_SERVICE_URL=render.url,
                          RENDER_SERVICE_TOKEN=render.token, REDIS_URL="", DAILY_TOKEN_BUDGET_PER_USER="0",
                          DAILY_COST_BUDGET_USD_PER_USER="0")
        from chat3d.db.migrate import upgrade_to_head
        from chat3d.settings import reset_settings_cache

        reset_settings_cache()
        upgrade_to_head()
        started = time.time()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            bar = progress.add_task(f"{args.suite}", total=len(tasks) * len(choices))

            def done(row: dict) -> None:
                mark = "pass" if row["passed"] else ("valid" if row["valid_solid"] else "no part")
                progress.update(bar, advance=1, description=f"{args.suite} {row['model']} {row['task']}: {mark}")
                if not console.is_terminal:  # logs get one line per task instead of a live bar
                    console.print(f"{row['model']} {row['task']}: {mark} in {row['seconds']:.1f} s")

            outcome = asyncio.run(harness.run_suite(tasks, choices, on_done=done, max_cost_usd=args.max_cost))
    finally:
        render.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "suite": args.suite, "tasks": [t.id for t in tasks], "code_version": _code_version(),
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "pass_rule": {"bbox_tolerance_mm": metrics.BBOX_TOLERANCE_MM, "volume_tolerance_pct": metrics.VOLUME_TOLERANCE_PCT,
                      "chamfer_max_mm": metrics.CHAMFER_MAX_MM, "hausdorff95_max_mm": metrics.HAUSDORFF95_MAX_MM},
        "alignment": "rigid (no scale, no mirror): point-to-point ICP (trimesh) of 5,000 generated samples onto the "
                     "reference's 50,000, best of five starts (centroid match, principal inertia frames in 4 flips)",
        "published": published_results(args.suite),
        **outcome,
    }
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print_tables(result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())

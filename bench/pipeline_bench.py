"""Pipeline overhead: submit → `completed`, with a zero-latency scripted model, minus render time.

Runs the real pipeline (domain submit, in-process job, runner, file storage, events) on a throwaway
PostgreSQL against the real render service; the scripted model answers instantly, so what remains
besides the render service's own time is Chat3D's overhead. Prints a markdown table and writes
bench/results/pipeline.json. Run: ``.venv/bin/python -m bench.pipeline_bench [--n 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CODE = "from build123d import *\nlength = 40.0  # mm\nresult = Box(length, 30, 5)\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _measure(n: int) -> dict:
    from chat3d.db.engine import session_scope
    from chat3d.db.models import ChatItem, Query, User
    from chat3d.domain import chats
    from chat3d.llm import registry
    from chat3d.pipeline import queries
    from chat3d.pipeline.jobs import InProcessJobs
    from tests.support.scripted_llm import CODEGEN_ID, CONVERSATION_ID, ScriptedProvider, code_reply, tool_reply

    provider = ScriptedProvider()
    original_configured, original_provider = registry.configured_models, registry.get_provider
    specs = [registry.ModelSpec(CONVERSATION_ID, "offline", CONVERSATION_ID, ("conversation",)),
             registry.ModelSpec(CODEGEN_ID, "offline", CODEGEN_ID, ("codegen",))]
    registry.configured_models = lambda settings: [*original_configured(settings), *specs]
    registry.get_provider = lambda spec, settings: provider if spec.id.startswith("scripted-") else original_provider(spec, settings)

    with session_scope() as s:
        user = User(email="bench@example.com")
        s.add(user)
        s.flush()
        ctx = chats.create_context(s, user.id)
        user_id, ctx_id = user.id, ctx.id

    jobs = InProcessJobs(concurrency=1)
    totals, renders, overheads = [], [], []
    for i in range(n + 2):  # two warm-up runs
        provider.conversation.append(tool_reply("A 40 x 30 x 5 mm plate", [40, 30, 5]))
        provider.codegen.append(code_reply(CODE))
        t0 = time.perf_counter()
        with session_scope() as s:
            qid = queries.submit_query(s, user_id, ctx_id, f"plate {i}").query.id
        await jobs.enqueue(qid)
        while True:
            with session_scope() as s:
                q = s.get(Query, qid)
                if q.state in ("completed", "failed"):
                    break
            await asyncio.sleep(0.002)
        total = time.perf_counter() - t0
        if q.state != "completed":
            raise SystemExit(f"query failed: {q.detail}")
        with session_scope() as s:
            item = s.get(ChatItem, q.assistant_item_id)
            render = next(seg for seg in item.segments if seg["type"] == "run")["timings"]["render_s"]
        if i >= 2:
            totals.append(total * 1000)
            renders.append(render * 1000)
            overheads.append((total - render) * 1000)
    return {
        "n": n,
        "submit_to_completed_ms": {"p50": pct(totals, 50), "p95": pct(totals, 95)},
        "render_service_ms": {"p50": pct(renders, 50), "p95": pct(renders, 95)},
        "overhead_ms": {"p50": pct(overheads, 50), "p95": pct(overheads, 95), "mean": statistics.fmean(overheads)},
        "target_overhead_p50_ms": 300,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()

    from tests.support.app_process import RenderServiceProcess
    from tests.support.servers import ThrowawayPostgres

    tmp = Path(tempfile.mkdtemp(prefix="chat3d-pipeline-bench-"))
    pg = ThrowawayPostgres().start()
    render = RenderServiceProcess().start(tmp)
    try:
        os.environ.update(DATABASE_URL=pg.url(), DATA_DIR=str(tmp / "data"), RENDER_SERVICE_URL=render.url,
                          RENDER_SERVICE_TOKEN=render.token, CHAT3D_ENV="test", REDIS_URL="")
        from chat3d.db.migrate import upgrade_to_head
        from chat3d.settings import reset_settings_cache

        reset_settings_cache()
        upgrade_to_head()
        result = asyncio.run(_measure(args.n))
    finally:
        render.stop()
        pg.stop()
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    o, t, r = result["overhead_ms"], result["submit_to_completed_ms"], result["render_service_ms"]
    print("\n### Pipeline overhead (zero-latency scripted model, PostgreSQL, real render service)\n")
    print("| measure | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    print(f"| submit → completed | {t['p50']:.0f} | {t['p95']:.0f} |")
    print(f"| render service (same runs) | {r['p50']:.0f} | {r['p95']:.0f} |")
    print(f"| **overhead** (target p50 ≤ 300) | **{o['p50']:.0f}** | {o['p95']:.0f} |")


if __name__ == "__main__":
    main()

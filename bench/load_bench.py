"""Load: simulated users over HTTP + SSE, each submitting a prompt every few seconds, on one app worker.

    python -m bench.load_bench [--users 50] [--interval 10] [--duration 120] [--drain 180]

Starts throwaway PostgreSQL, the real render service and one uvicorn worker on `create_api()`
(tests/events/appserver.py: the API plus the event bus; queries run in-process as on the embedded
default, `PIPELINE_CONCURRENCY` at a time) with the offline model (zero latency, real build123d programs,
real renders). Users and their sessions are created with the real session code (logging 50 users in from
one address would only measure the login rate limit).

Each user holds one SSE stream (`/api/events/stream`) and submits `POST /api/query/submit` every
--interval seconds (first submit at a random offset) for --duration seconds, then the run waits up to
--drain seconds for every accepted query to finish. Counted:

* expected refusals: 429/503 answers, which must carry Retry-After (the per-user running limit is 2);
* unexpected errors: any other non-202 answer, a refusal without Retry-After, a broken stream;
* lost: an accepted query whose terminal `chat.query.state` event never arrived on its user's stream
  (checked against the query's final state over REST); stuck: not terminal after the drain;
* latency: submit sent → terminal event received (p50/p95/max), for completed and for all terminal.

Prints a markdown table and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "load.json"

PROMPTS = [
    "a 40 x 30 x 5 mm plate",
    "a 20 mm cube",
    "a 80 x 50 x 5 mm plate with four 4 mm holes",
    "a 60 x 20 x 3 mm plate",
    "a 15 mm cube",
]
TERMINAL = {"completed", "failed", "cancelled"}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


class User:
    def __init__(self, idx: int, token: str, context_id: str):
        self.idx, self.token, self.context_id = idx, token, context_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sent: dict[str, float] = {}  # query id -> monotonic time the submit was sent
        self.terminal: dict[str, tuple[str, float]] = {}  # query id -> (state, monotonic receipt time)
        self.stream_errors: list[str] = []
        self.ready = asyncio.Event()


async def _stream(base: str, user: User, stop: asyncio.Event) -> None:
    """One EventSource per user; reconnects with Last-Event-ID like a browser would."""
    from tests.events.sse import SseParser, iter_sse

    parser = SseParser()
    while not stop.is_set():
        headers = dict(user.headers)
        if parser.last_event_id:
            headers["Last-Event-ID"] = parser.last_event_id
        try:
            async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None)) as client:
                async with client.stream("GET", "/api/events/stream", headers=headers) as resp:
                    if resp.status_code != 200:
                        user.stream_errors.append(f"stream status {resp.status_code}")
                        await asyncio.sleep(1)
                        continue
                    user.ready.set()
                    async for event in iter_sse(resp.aiter_lines(), parser):
                        if event.event != "chat.query.state":
                            continue
                        payload = json.loads(event.data)["payload"]
                        if payload["state"] in TERMINAL and payload["queryId"] not in user.terminal:
                            user.terminal[payload["queryId"]] = (payload["state"], time.monotonic())
                        if stop.is_set():
                            return
        except (TimeoutError, httpx.HTTPError) as exc:
            if not stop.is_set():
                user.stream_errors.append(f"stream dropped: {type(exc).__name__}")
                await asyncio.sleep(0.5)


async def _submitter(base: str, user: User, args, end_at: float, counts: Counter, errors: list[str]) -> None:
    await user.ready.wait()
    await asyncio.sleep(random.uniform(0, args.interval))
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < end_at:
            started = time.monotonic()
            prompt = random.choice(PROMPTS)
            try:
                resp = await client.post("/api/query/submit", headers=user.headers,
                                         json={"contextId": user.context_id, "prompt": prompt})
            except httpx.HTTPError as exc:
                counts["transport_error"] += 1
                errors.append(f"submit: {type(exc).__name__}")
            else:
                if resp.status_code == 202:
                    user.sent[resp.json()["queryId"]] = started
                    counts["accepted"] += 1
                elif resp.status_code in (429, 503) and resp.headers.get("retry-after"):
                    counts[f"refused_{resp.status_code}"] += 1
                else:
                    counts[f"unexpected_{resp.status_code}"] += 1
                    errors.append(f"submit {resp.status_code}: {resp.text[:200]}")
            await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - started)))


async def _run(base: str, users: list[User], args) -> dict:
    stop = asyncio.Event()
    counts: Counter = Counter()
    errors: list[str] = []
    streams = [asyncio.create_task(_stream(base, u, stop)) for u in users]
    await asyncio.wait_for(asyncio.gather(*(u.ready.wait() for u in users)), 60)
    t0 = time.monotonic()
    end_at = t0 + args.duration
    await asyncio.gather(*(_submitter(base, u, args, end_at, counts, errors) for u in users))
    submit_phase = time.monotonic() - t0

    drain_deadline = time.monotonic() + args.drain
    while time.monotonic() < drain_deadline:
        if all(q in u.terminal for u in users for q in u.sent):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)  # a last event in flight
    stop.set()
    for t in streams:
        t.cancel()
    await asyncio.gather(*streams, return_exceptions=True)

    # Compare with the source of truth: each accepted query's state over REST.
    lost, stuck, final_states, details = [], [], Counter(), Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for u in users:
            for qid in u.sent:
                body = (await client.get(f"/api/query/{qid}", headers=u.headers)).json()
                final_states[body["state"]] += 1
                if body["state"] not in TERMINAL:
                    stuck.append(qid)
                elif qid not in u.terminal:
                    lost.append(qid)
                if body["state"] == "failed":
                    details[body["detail"][:80]] += 1
    latencies_done = [u.terminal[q][1] - t for u in users for q, t in u.sent.items()
                      if q in u.terminal and u.terminal[q][0] == "completed"]
    latencies_all = [u.terminal[q][1] - t for u in users for q, t in u.sent.items() if q in u.terminal]
    stream_errors = [e for u in users for e in u.stream_errors]
    return {
        "submit_phase_s": round(submit_phase, 1),
        "counts": dict(counts),
        "final_states": dict(final_states),
        "failure_details": dict(details),
        "lost": len(lost), "stuck": len(stuck),
        "unexpected_errors": sum(v for k, v in counts.items() if k.startswith("unexpected") or k == "transport_error"),
        "error_samples": errors[:10],
        "stream_errors": len(stream_errors), "stream_error_samples": stream_errors[:10],
        "submit_to_completed_ms": {"p50": pct([x * 1000 for x in latencies_done], 50),
                                   "p95": pct([x * 1000 for x in latencies_done], 95),
                                   "max": pct([x * 1000 for x in latencies_done], 100),
                                   "mean": round(statistics.mean(latencies_done) * 1000, 1) if latencies_done else None},
        "submit_to_terminal_ms": {"p50": pct([x * 1000 for x in latencies_all], 50),
                                  "p95": pct([x * 1000 for x in latencies_all], 95)},
        "completed_per_min": round(final_states.get("completed", 0) / (submit_phase / 60), 1) if submit_phase else None,
    }


def _prepare(db_url: str, n: int) -> list[tuple[str, str]]:
    from sqlmodel import Session

    from chat3d.db.engine import engine_for
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.db.models import User as UserRow
    from chat3d.domain import chats
    from chat3d.domain.sessions import start_session

    upgrade_to_head(db_url)
    out = []
    with Session(engine_for(db_url)) as s:
        for i in range(n):
            user = UserRow(email=f"load-{i}-{uuid.uuid4().hex[:6]}@example.com")
            s.add(user)
            s.flush()
            ctx = chats.create_context(s, user.id, name=f"Load {i}")
            out.append((start_session(s, user, ip="127.0.0.1", user_agent="load-bench"), str(ctx.id)))
        s.commit()
    engine_for(db_url).dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--drain", type=float, default=180.0)
    args = parser.parse_args()

    os.environ.setdefault("CHAT3D_ENV", "test")
    os.environ["JWT_SECRET"] = "load-bench-secret-" + "x" * 32
    from chat3d.settings import reset_settings_cache
    from tests.events.appserver import ApiServer
    from tests.support.app_process import RenderServiceProcess
    from tests.support.servers import ThrowawayPostgres

    workdir = Path(tempfile.mkdtemp(prefix="chat3d-load-"))
    pg = ThrowawayPostgres().start()
    render = server = None
    try:
        db_url = pg.url("postgres")
        reset_settings_cache()
        render = RenderServiceProcess().start(workdir)
        users_raw = _prepare(db_url, args.users)
        env = {
            "DATABASE_URL": db_url, "DATA_DIR": str(workdir / "data"), "RENDER_SERVICE_URL": render.url,
            "RENDER_SERVICE_TOKEN": render.token, "REDIS_URL": "",
            "CHAT3D_ENV": "test", "JWT_SECRET": os.environ["JWT_SECRET"],
            "DEFAULT_CONVERSATION_MODEL": "offline-conversation", "DEFAULT_CODEGEN_MODEL": "offline-templates",
        }
        server = ApiServer(env).start(workdir)
        users = [User(i, token, ctx) for i, (token, ctx) in enumerate(users_raw)]
        load_before = os.getloadavg()
        result = asyncio.run(_run(server.url, users, args))
        result |= {
            "users": args.users, "interval_s": args.interval, "duration_s": args.duration,
            "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
                        "note": "one host: PostgreSQL, the render service, one app worker and all clients"},
        }
    finally:
        if server:
            server.stop()
        if render:
            render.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1), encoding="utf-8")
    c = result["counts"]
    lat = result["submit_to_completed_ms"]
    print("| metric | value |\n| --- | --- |")
    print(f"| users × interval × duration | {args.users} × {args.interval:g} s × {args.duration:g} s |")
    print(f"| submits accepted / refused 429 / refused 503 | {c.get('accepted', 0)} / {c.get('refused_429', 0)} / {c.get('refused_503', 0)} |")
    print(f"| final states | {result['final_states']} |")
    print(f"| unexpected errors | {result['unexpected_errors']} (stream errors {result['stream_errors']}) |")
    print(f"| lost (terminal, no event on the stream) / stuck | {result['lost']} / {result['stuck']} |")
    print(f"| submit → completed p50 / p95 / max | {lat['p50']} / {lat['p95']} / {lat['max']} ms |")
    print(f"| completed per minute | {result['completed_per_min']} |")
    if result["failure_details"]:
        print(f"| failure reasons | {result['failure_details']} |")
    ok = result["unexpected_errors"] == 0 and result["lost"] == 0 and result["stuck"] == 0
    print(f"\n{'PASS' if ok else 'FAIL'}: 0 unexpected errors, 0 lost, 0 stuck")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

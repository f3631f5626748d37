"""SSE fan-out benchmark: 1,000 streams of 1,000 users on ONE app worker, 500 events/s for ~20 s.

    python bench/sse_bench.py [--streams 1000] [--rate 500] [--duration 20] [--client-procs 2]

Starts throwaway PostgreSQL and Redis (tests/support/servers.py), migrates a database, creates the users
and their login tokens with the real session code, and starts one worker process on `create_api()` (granian, as Reflex runs it in production; `--server uvicorn` for comparison)
(tests/events/appserver.py: the app plus the event-bus lifespan). Then:

* client processes (asyncio, raw sockets, HTTP/1.1 + chunked + SSE framing) hold the streams, one per user;
* a publisher process writes events the way domain code does (`record_event` + commit, whose after-commit
  hook PUBLISHes the wake-up on Redis), each to one random user, paced at --rate;
* latency = client receive time - publisher time taken just before the INSERT (CLOCK_MONOTONIC is
  system-wide, so the processes share it); the "after publish" column measures from when the commit and
  the PUBLISH had returned in the publisher;
* lost = published events the addressed user's stream never received; misrouted = received by another user;
* memory per stream = (worker RSS with all streams open - worker RSS before any stream) / streams.

Prints a markdown table and writes bench/results/sse.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

RESULTS = REPO_ROOT / "bench" / "results" / "sse.json"


# --- client process --------------------------------------------------------------------------------------


async def _one_stream(idx: int, token: str, host: str, port: int, received: list, state: dict,
                      ready: asyncio.Event) -> None:
    try:
        await _stream_body(idx, token, host, port, received, state, ready)
    finally:
        ready.set()


async def _stream_body(idx: int, token: str, host: str, port: int, received: list, state: dict,
                       ready: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    except OSError as exc:
        state["errors"].append(f"connect: {exc}")
        return
    writer.write(
        (f"GET /api/events/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
         "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        state["errors"].append(f"status: {status!r}")
        writer.close()
        return
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
            chunked = True
    state["connected"] += 1
    ready.set()
    buf = b""
    try:
        while True:
            if chunked:
                size_line = await reader.readline()
                if not size_line:
                    break
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    break
            now = time.monotonic()
            buf += data
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                for field in frame.split(b"\n"):
                    if field.startswith(b"data: "):
                        env = json.loads(field[6:])
                        received.append((env["id"], idx, now))
                    elif field.startswith(b":"):
                        state["heartbeats"] += 1
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        state["closed"] += 1
        writer.close()


async def _client_main(args: argparse.Namespace) -> None:
    tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8"))[args.start:args.start + args.count]
    received: list = []
    state = {"connected": 0, "closed": 0, "heartbeats": 0, "errors": []}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def opened(i: int, token: str) -> None:
        async with gate:  # hold the gate until this stream's response headers arrived (or it failed)
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(_one_stream(args.start + i, token, args.host, args.port, received, state, ready)))
            await ready.wait()

    async def progress() -> None:  # how many distinct events arrived, for the orchestrator's drain
        path, tmp = Path(args.out + ".progress"), Path(args.out + ".progress.tmp")
        while True:
            tmp.write_text(str(len({r[0] for r in received})), encoding="utf-8")
            os.replace(tmp, path)
            await asyncio.sleep(0.25)

    tasks: list[asyncio.Task] = []
    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(opened(i, t) for i, t in enumerate(tokens)))
    await stop.wait()
    reporter.cancel()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    Path(args.out).write_text(json.dumps({"received": received, **state}), encoding="utf-8")


# --- publisher process -----------------------------------------------------------------------------------


def _publisher_main(args: argparse.Namespace) -> None:
    import uuid

    from chat3d.db.engine import session_scope
    from chat3d.events import store, types

    users = [uuid.UUID(u) for u in json.loads(Path(args.users).read_text(encoding="utf-8"))]
    total = int(args.rate * args.duration)
    rnd = random.Random(7)
    targets = [rnd.randrange(len(users)) for _ in range(total)]
    published: list = [None] * total  # stays None for an event that was not published (counted as lost)
    failures: list[str] = []
    start = time.monotonic() + 0.5
    next_index = iter(range(total))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            due = start + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t0 = time.monotonic()
            try:
                with session_scope() as session:
                    event_id = store.record_event(session, users[targets[i]], types.NOTIFICATION_CREATED, {"seq": i}).id
            except Exception as exc:  # noqa: BLE001 - the bench counts it and carries on
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            t1 = time.monotonic()
            published[i] = (event_id, targets[i], t0, t1, t0 - due)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        elapsed = time.monotonic() - start
        Path(args.out).write_text(json.dumps({"published": published, "elapsed": elapsed,
                                              "failures": len(failures), "failure_samples": failures[:10]}), encoding="utf-8")


# --- orchestrator ----------------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def _worker_pid(pid: int) -> int:
    """The process that serves requests: granian's single worker is a child of its supervisor."""
    import psutil

    children = psutil.Process(pid).children()
    return children[0].pid if len(children) == 1 else pid


def _rss(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def _bus_state(url: str) -> dict:
    import httpx

    return httpx.get(f"{url}/__test/bus", timeout=5).json()


def _prepare(db_url: str, streams: int, workdir: Path) -> tuple[Path, Path]:
    from sqlmodel import Session

    from chat3d.db.engine import engine_for
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.db.models import User
    from chat3d.domain.sessions import start_session

    upgrade_to_head(db_url)
    tokens, ids = [], []
    with Session(engine_for(db_url), expire_on_commit=False) as s:
        users = [User(email=f"bench-{i}@example.test", display_name=f"bench {i}") for i in range(streams)]
        s.add_all(users)
        s.flush()
        for user in users:
            tokens.append(start_session(s, user, ip="127.0.0.1", user_agent="sse-bench"))
            ids.append(str(user.id))
        s.commit()
    (workdir / "tokens.json").write_text(json.dumps(tokens), encoding="utf-8")
    (workdir / "users.json").write_text(json.dumps(ids), encoding="utf-8")
    return workdir / "tokens.json", workdir / "users.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--publisher-threads", type=int, default=4)
    ap.add_argument("--connect-concurrency", type=int, default=20)
    ap.add_argument("--heartbeat", type=float, default=15.0, help="EVENTS_HEARTBEAT_S of the worker (the product default is 15)")
    ap.add_argument("--server", choices=("granian", "uvicorn"), default="granian",
                    help="the worker's HTTP server (granian is what Reflex runs the app's backend on in production)")
    ap.add_argument("--drain", type=float, default=10.0,
                    help="after publishing, wait up to this long for every published event to arrive")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from chat3d.settings import reset_settings_cache
    from tests.events.appserver import ApiServer
    from tests.support.servers import ThrowawayPostgres, ThrowawayRedis

    workdir = Path(tempfile.mkdtemp(prefix="chat3d-ssebench-"))
    pg = ThrowawayPostgres().start()
    redis = ThrowawayRedis().start()
    server = None
    clients: list[subprocess.Popen] = []
    try:
        db_url = pg.url("postgres")
        env = {
            "DATABASE_URL": db_url, "REDIS_URL": redis.url, "DATA_DIR": str(workdir / "data"), "CHAT3D_ENV": "test",
            "JWT_SECRET": "sse-bench-secret-" + "x" * 32, "RATE_LIMIT_API": "1000000/minute",
            "RENDER_SERVICE_URL": "http://127.0.0.1:9", "EVENTS_HEARTBEAT_S": str(args.heartbeat),
        }
        os.environ.update(env)
        reset_settings_cache()
        tokens_file, users_file = _prepare(db_url, args.streams, workdir)

        server = ApiServer(env, server=args.server).start(workdir)
        worker_pid = _worker_pid(server.proc.pid)
        import httpx

        for _ in range(20):  # warm the worker (imports, pools) before the baseline
            httpx.get(f"{server.url}/health", timeout=5)
        rss_before = _rss(worker_pid)

        connect_started = time.monotonic()
        per = -(-args.streams // args.client_procs)
        for k in range(args.client_procs):
            start, count = k * per, min(per, args.streams - k * per)
            clients.append(subprocess.Popen(
                [sys.executable, __file__, "_client", "--tokens", str(tokens_file), "--start", str(start),
                 "--count", str(count), "--host", "127.0.0.1", "--port", str(server.port),
                 "--connect-concurrency", str(max(1, args.connect_concurrency // args.client_procs)),
                 "--out", str(workdir / f"client-{k}.json")],
                cwd=REPO_ROOT, env=dict(os.environ),
            ))
        deadline = time.monotonic() + 180
        while _bus_state(server.url)["listeners"] < args.streams:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {_bus_state(server.url)['listeners']} streams connected")
            time.sleep(0.25)
        connect_s = time.monotonic() - connect_started
        time.sleep(1.0)
        rss_streams = _rss(worker_pid)
        import psutil

        worker = psutil.Process(worker_pid)
        worker.cpu_percent(None)

        gc_before = _bus_state(server.url).get("gc")
        pub_out = workdir / "published.json"
        expected_total = int(args.rate * args.duration)
        publisher = subprocess.run(
            [sys.executable, __file__, "_publish", "--users", str(users_file), "--rate", str(args.rate),
             "--duration", str(args.duration), "--threads", str(args.publisher_threads), "--out", str(pub_out)],
            cwd=REPO_ROOT, env=dict(os.environ),
        )  # a publisher that dies is not fatal: whatever it did not publish counts as lost below
        worker_cpu = worker.cpu_percent(None)
        try:
            pub = json.loads(pub_out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pub = {"published": [], "elapsed": float("nan"), "failures": 0, "failure_samples": []}
        published = [p for p in pub["published"] if p is not None]
        # Drain: until every published event arrived somewhere (the clients' progress files) or --drain seconds.
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < args.drain:
            arrived = 0
            for k in range(len(clients)):
                try:
                    arrived += int((workdir / f"client-{k}.json.progress").read_text(encoding="utf-8") or 0)
                except (OSError, ValueError):
                    pass
            if arrived >= len(published):
                break
            time.sleep(0.1)
        drain_s = time.monotonic() - drain_started
        rss_after = _rss(worker_pid)
        bus_state = _bus_state(server.url)
        for c in clients:
            c.send_signal(signal.SIGTERM)
        for c in clients:
            c.wait(60)

        received: dict[int, tuple[int, float]] = {}
        duplicates = misrouted = 0
        client_state = {"connected": 0, "heartbeats": 0, "errors": []}
        for k in range(len(clients)):
            data = json.loads((workdir / f"client-{k}.json").read_text(encoding="utf-8"))
            for key in ("connected", "heartbeats"):
                client_state[key] += data[key]
            client_state["errors"] += data["errors"]
            for event_id, idx, t in data["received"]:
                if event_id in received:
                    duplicates += 1
                received[event_id] = (idx, t)
        lat, lat_after = [], []
        publish_failed = expected_total - len(published)  # never published (failed, or the publisher died)
        lost = publish_failed
        for event_id, target, t0, t1, _lag in published:
            got = received.get(event_id)
            if got is None:
                lost += 1
                continue
            if got[0] != target:
                misrouted += 1
            lat.append((got[1] - t0) * 1000)
            lat_after.append((got[1] - t1) * 1000)
        lags = [p[4] * 1000 for p in published]
        achieved_rate = round(len(published) / pub["elapsed"], 1) if pub["elapsed"] > 0 else 0.0
        p99 = _pct(lat, 99)
        targets = {
            "p99_le_50ms": p99 <= 50,  # NaN (nothing received) is not met
            "zero_lost": lost == 0,
            "zero_duplicated_misrouted": duplicates == 0 and misrouted == 0,
            "publish_rate_ge_95pct_of_target": achieved_rate >= 0.95 * args.rate,
        }
        result = {
            "streams": args.streams,
            "users": args.streams,
            "streams_connected": client_state["connected"],
            "connect_seconds": round(connect_s, 2),
            "target_rate_per_s": args.rate,
            "duration_s": args.duration,
            "events_expected": expected_total,
            "events_published": len(published),
            "publish_failed": publish_failed,
            "publisher_exit_code": publisher.returncode,
            "publisher_failure_samples": pub.get("failure_samples", [])[:10],
            "achieved_rate_per_s": achieved_rate,
            "publisher_schedule_lag_p99_ms": round(_pct(lags, 99), 2),
            "events_received": len(lat),
            "lost": lost,
            "duplicates": duplicates,
            "misrouted": misrouted,
            "drain_s": round(drain_s, 2),
            "targets": targets,
            "target_met": all(targets.values()),
            "latency_ms": {"p50": round(_pct(lat, 50), 2), "p90": round(_pct(lat, 90), 2),
                           "p99": round(_pct(lat, 99), 2), "max": round(max(lat, default=float("nan")), 2),
                           "mean": round(statistics.fmean(lat), 2) if lat else None},
            "latency_after_publish_ms": {"p50": round(_pct(lat_after, 50), 2), "p99": round(_pct(lat_after, 99), 2)},
            "worker_rss_mb": {"before": round(rss_before / 2**20, 1), "with_streams": round(rss_streams / 2**20, 1),
                              "after_run": round(rss_after / 2**20, 1)},
            "memory_per_stream_kb": round((rss_streams - rss_before) / args.streams / 1024, 1),
            "memory_per_stream_after_run_kb": round((rss_after - rss_before) / args.streams / 1024, 1),
            "worker_cpu_percent_during_publish": round(worker_cpu, 1),
            "heartbeat_s": args.heartbeat,
            "server": args.server,
            "heartbeats_seen": client_state["heartbeats"],
            "client_errors": client_state["errors"][:10],
            "bus": bus_state,
            "worker_gc_before_publishing": gc_before,
            "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(),
                        "note": "everything (PostgreSQL, Redis, the worker, clients, publisher) on one host"},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        L = result["latency_ms"]
        print()
        print("| metric | value |")
        print("| --- | --- |")
        rows = [
            ("streams held by one worker (users)", f"{result['streams_connected']} ({result['users']})"),
            ("events published (achieved rate)", f"{result['events_published']} ({result['achieved_rate_per_s']}/s, target {args.rate:g}/s)"),
            ("publish→receive p50 / p90 / p99 / max", f"{L['p50']} / {L['p90']} / {L['p99']} / {L['max']} ms"),
            ("after-PUBLISH→receive p50 / p99", f"{result['latency_after_publish_ms']['p50']} / {result['latency_after_publish_ms']['p99']} ms"),
            ("lost / duplicated / misrouted", f"{lost} / {duplicates} / {misrouted}"
             + (f" ({publish_failed} never published)" if publish_failed else "")),
            ("worker RSS before → with streams → after run", f"{result['worker_rss_mb']['before']} → {result['worker_rss_mb']['with_streams']} → {result['worker_rss_mb']['after_run']} MB"),
            ("memory per stream", f"{result['memory_per_stream_kb']} KB (after run {result['memory_per_stream_after_run_kb']} KB)"),
            ("worker CPU during publishing", f"{result['worker_cpu_percent_during_publish']} %"),
            ("time to connect all streams", f"{result['connect_seconds']} s"),
        ]
        rows.append(("target (p99 ≤ 50 ms, 0 lost / duplicated / misrouted, ≥ 95 % of the rate)",
                     "met" if result["target_met"] else
                     "MISSED: " + ", ".join(k for k, ok in targets.items() if not ok)))
        for k, v in rows:
            print(f"| {k} | {v} |")
        print(f"\nwrote {args.out}")
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        if server is not None:
            server.stop()
        redis.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _sub_main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role")
    ap.add_argument("--tokens")
    ap.add_argument("--users")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--connect-concurrency", type=int, default=10)
    ap.add_argument("--rate", type=float)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.role == "_client":
        asyncio.run(_client_main(args))
    else:
        _publisher_main(args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_client", "_publish"):
        _sub_main()
    else:
        main()

"""Probe each dependency with a short timeout and say which one fails and why.

The database and Redis (when configured) are required: without them the app cannot serve, so `/ready`
answers 503. The render service is reported but only degrades readiness: pages, accounts and history
keep working and a query fails with a clear message until it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

from chat3d.db.engine import get_engine
from chat3d.services.outbound_http import async_client
from chat3d.settings import get_settings

PROBE_TIMEOUT_S = 2.0


def _database_probe() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


async def _probe_database() -> None:
    await asyncio.to_thread(_database_probe)


async def _probe_redis() -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(
        get_settings().redis_url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    try:
        await client.ping()  # type: ignore[misc]  # redis types ping() for its sync and async clients at once (Awaitable[bool] | bool)
    finally:
        await client.aclose()


async def _probe_render() -> None:
    """Every replica behind RENDER_SERVICE_URL (one per DNS record): ready while at least one answers."""
    from chat3d.services.render_client import resolve_replicas

    urls = await resolve_replicas(get_settings().effective_render_url)
    if not urls:
        raise RuntimeError(f"{get_settings().effective_render_url} does not resolve")

    async def one(url: str) -> None:
        async with async_client(timeout=PROBE_TIMEOUT_S) as client:
            resp = await client.get(f"{url}/health")
            resp.raise_for_status()

    results = await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if len(failures) == len(urls):
        raise failures[0]


async def _run(name: str, probe: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_S)
        result: dict[str, Any] = {"status": "ok"}
    except TimeoutError:
        result = {"status": "down", "reason": f"no answer within {PROBE_TIMEOUT_S:.0f} s"}
    except Exception as exc:  # the reason is the report
        result = {
            "status": "down",
            "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300],
        }
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return {name: result}


async def check_all() -> dict[str, Any]:
    settings = get_settings()
    probes: dict[str, tuple[Callable[[], Awaitable[None]], bool]] = {"database": (_probe_database, True)}
    if settings.redis_url:
        probes["redis"] = (_probe_redis, True)
    probes["render_service"] = (_probe_render, False)
    results: dict[str, Any] = {}
    for part in await asyncio.gather(*(_run(name, probe) for name, (probe, _) in probes.items())):
        results.update(part)
    required_down = [n for n, (_, required) in probes.items() if required and results[n]["status"] != "ok"]
    optional_down = [n for n, (_, required) in probes.items() if not required and results[n]["status"] != "ok"]
    status = "unavailable" if required_down else ("degraded" if optional_down else "ok")
    report: dict[str, Any] = {"status": status, "dependencies": results}
    if required_down:
        report["failing"] = required_down
    return report

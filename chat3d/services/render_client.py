"""HTTP client for the render service: one call, typed results, clear errors.

The request and the answers are `render_service.protocol` (shared with the service): 200 with files and
metrics (a length-prefixed binary body), 422 when the program itself failed (kind, message, line), 400 for a
malformed request, 429/503 when busy (with Retry-After). Busy answers are retried a few times; an unreachable
service becomes `RenderUnavailable` with a message a person can act on.

Several replicas (Docker Swarm, `endpoint_mode: dnsrr`): RENDER_SERVICE_URL names one host whose DNS name
has an A record per replica (a comma-separated list of URLs works too). Each render goes to the least busy
replica by its `/health` (`busy + queued`, cached for at most `HEALTH_TTL_S`; ties taken in turn), and moves
on to the next one when a replica cannot be reached or answers 429/503 - those answers mean the job was never
started there. A replica that accepted the job and then broke off (connection reset, timeout, 5xx) is NOT
asked again on another replica: rendering has no side effects, but a program that kills or wedges the
replica it runs on would take every replica down in turn, and a long job would run twice; the query fails
with a retry offer instead and the person decides. With a single replica nothing is probed and the client
behaves as it always did.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from chat3d.services.outbound_http import async_client
from chat3d.settings import get_settings
from render_service.protocol import (  # the wire protocol only: no build123d, no sandbox
    DEFAULT_FORMATS,
    RESULT_MEDIA_TYPE,
    BadAnswer,
    RenderedFile,
    RenderFailure,
    RenderRequest,
    RenderSuccess,
    decode_failure,
    decode_result,
)

__all__ = [
    "DEFAULT_FORMATS",
    "RenderClient",
    "RenderedFile",
    "RenderFailure",
    "RenderSuccess",
    "RenderUnavailable",
    "resolve_replicas",
]
HEALTH_TTL_S = 1.0  # how long a replica's /health answer (and the DNS answer) is trusted
HEALTH_TIMEOUT_S = 1.5


class RenderUnavailable(Exception):
    """The service could not be reached or stayed busy; nothing is wrong with the program."""


def _split_urls(spec: str) -> list[str]:
    return [u.strip().rstrip("/") for u in spec.split(",") if u.strip()]


async def resolve_replicas(spec: str) -> list[str]:
    """Every replica's base URL: each http URL's host expanded to all its addresses (one URL per A/AAAA record).

    https URLs are kept as given (connecting by address would break certificate checks); a name that does not
    resolve is left out, so the others still serve.
    """
    loop = asyncio.get_running_loop()
    out: list[str] = []
    for url in _split_urls(spec):
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "http" or not host:
            out.append(url)
            continue
        port = parts.port or 80
        try:
            ipaddress.ip_address(host)
            out.append(url)  # already an address
            continue
        except ValueError:
            pass
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            continue
        rest = parts.path.rstrip("/")
        for addr in dict.fromkeys(str(info[4][0]) for info in infos):
            shown = f"[{addr}]" if ":" in addr else addr
            out.append(f"http://{shown}:{port}{rest}")
    return list(dict.fromkeys(out))


@dataclass
class _Health:
    load: float  # busy + queued; inf when the replica is down or refuses
    checked: float
    picks: int = 0  # jobs sent there since the check: spreads a burst that arrives within one TTL


class ReplicaSet:
    """The replicas behind one RENDER_SERVICE_URL and what their last /health said (shared by all clients)."""

    def __init__(self, spec: str):
        self.spec = spec
        self.urls: list[str] = []
        self.resolved_at = -1e9
        self.health: dict[str, _Health] = {}
        self._turn = itertools.count()

    async def refresh(self, token: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.resolved_at > HEALTH_TTL_S or not self.urls:
            urls = await resolve_replicas(self.spec)
            self.urls, self.resolved_at = urls, now
            self.health = {u: h for u, h in self.health.items() if u in urls}
        if len(self.urls) < 2:
            return  # nothing to choose between: no probes
        stale = [u for u in self.urls if force or u not in self.health or now - self.health[u].checked > HEALTH_TTL_S]
        if stale:
            loads = await asyncio.gather(*(_probe(u, token) for u in stale))
            checked = time.monotonic()
            for u, load in zip(stale, loads):
                self.health[u] = _Health(load=load, checked=checked)

    def order(self) -> list[str]:
        """Least busy first; replicas with the same load take turns (round-robin); ones that failed last."""
        if len(self.urls) < 2:
            return list(self.urls)
        turn = next(self._turn)
        n = len(self.urls)
        rotated = [self.urls[(i + turn) % n] for i in range(n)]

        def key(u: str) -> float:
            h = self.health.get(u)
            return float("inf") if h is None else h.load + h.picks

        return sorted(rotated, key=key)  # stable: equal loads keep the rotated order

    def picked(self, url: str) -> None:
        h = self.health.get(url)
        if h is not None:
            h.picks += 1

    def failed(self, url: str) -> None:
        """Refused or unreachable: last in line until its next health check says otherwise."""
        if url in self.health:
            self.health[url].load = float("inf")


async def _probe(url: str, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with async_client(timeout=HEALTH_TIMEOUT_S) as client:
            resp = await client.get(f"{url}/health", headers=headers)
        if resp.status_code != 200:
            return float("inf")
        body = resp.json()
        return float(body.get("busy", 0)) + float(body.get("queued", 0))
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return float("inf")


_REPLICA_SETS: dict[str, ReplicaSet] = {}


def replica_set(spec: str) -> ReplicaSet:
    rs = _REPLICA_SETS.get(spec)
    if rs is None:
        rs = _REPLICA_SETS[spec] = ReplicaSet(spec)
    return rs


# Errors raised before the request reached a replica: trying another one cannot run the job twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class RenderClient:
    base_url: str = field(default_factory=lambda: get_settings().effective_render_url)
    busy_retries: int = 5

    async def render(
        self,
        code: str,
        *,
        formats: tuple[str, ...] = DEFAULT_FORMATS,
        timeout_s: float | None = None,
        user_id: str | None = None,
        inputs: list[tuple[str, bytes]] | None = None,
    ) -> RenderSuccess | RenderFailure:
        """Render `code`; `inputs` are (bare name, bytes) files the program reads, e.g. an imported STEP."""
        cap = timeout_s or get_settings().render_timeout_s
        body = RenderRequest(code=code, formats=tuple(formats), timeout_s=cap, inputs=tuple(inputs or ())).to_json()
        headers = {"Content-Type": "application/json", **({"X-Chat3D-User": user_id} if user_id else {})}
        token = get_settings().render_service_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        replicas = replica_set(self.base_url)
        async with async_client(timeout=httpx.Timeout(cap + 30, connect=3)) as client:
            for attempt in range(self.busy_retries + 1):
                await replicas.refresh(token, force=attempt > 0)
                urls = replicas.order()
                if not urls:
                    raise RenderUnavailable(
                        "The render service is not reachable right now (its name does not resolve); "
                        "try again in a moment."
                    )
                busy: httpx.Response | None = None
                unreachable: Exception | None = None
                for url in urls:
                    replicas.picked(url)
                    try:
                        resp = await client.post(f"{url}/render", content=body, headers=headers)
                    except _NOT_SENT as exc:
                        replicas.failed(url)
                        unreachable = exc
                        continue
                    except httpx.HTTPError as exc:  # it had the job: see the module docstring
                        raise RenderUnavailable(
                            "The render service stopped answering while rendering; try again in a moment."
                        ) from exc
                    if resp.status_code in (429, 503):
                        replicas.failed(url)
                        busy = resp
                        continue
                    return _parse(resp)
                if busy is None:
                    raise RenderUnavailable(
                        "The render service is not reachable right now; try again in a moment."
                    ) from unreachable
                if attempt < self.busy_retries:
                    await asyncio.sleep(min(float(busy.headers.get("Retry-After", "1") or 1), 5.0))
        raise RenderUnavailable("The render service stayed busy; try again in a moment.")


def _parse(resp: httpx.Response) -> RenderSuccess | RenderFailure:
    if resp.status_code == 200 and resp.headers.get("content-type", "").startswith(RESULT_MEDIA_TYPE):
        try:
            return decode_result(resp.content)
        except BadAnswer as exc:
            raise RenderUnavailable(f"The render service gave an unreadable answer ({exc}); try again.") from None
    try:
        payload = resp.json()
    except ValueError:
        raise RenderUnavailable(f"The render service gave an unreadable answer (HTTP {resp.status_code}).") from None
    if resp.status_code == 422:
        return decode_failure(payload)
    if resp.status_code in (429, 503):
        raise RenderUnavailable("The render service is busy; try again in a moment.")
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    raise RenderUnavailable(
        f"The render service refused the request (HTTP {resp.status_code}): {message or 'unknown error'}"
    )

"""The render client spreads jobs over several render replicas (Docker Swarm, `endpoint_mode: dnsrr`).

Replicas here are small real HTTP servers speaking the render service's wire protocol (`/health` with `busy` and
`queued`, `/render` answering 200/503/...), so each test decides what a replica says; one test uses the real
render service behind a dead address.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chat3d.services import render_client
from chat3d.services.render_client import RenderClient, RenderSuccess, RenderUnavailable, resolve_replicas
from render_service.protocol import RESULT_MEDIA_TYPE


class _Handler(BaseHTTPRequestHandler):
    server: FakeReplica

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        fake = self.server
        fake.health_hits += 1
        if self.path != "/health":
            self._send(404, {"ok": False})
        elif fake.health_status != 200:
            self._send(fake.health_status, {"status": "unavailable", "message": "the worker zygote does not answer"})
        else:
            self._send(200, {"status": "ok", "busy": fake.busy, "queued": fake.queued, "workers_ready": 2})

    def do_POST(self) -> None:
        fake = self.server
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fake.render_hits += 1
        if fake.render_mode == "drop":  # took the job, then the replica went away mid-render
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fake.render_mode == "503":
            self._send(503, {"ok": False, "error": {"kind": "overloaded", "message": "busy"}}, {"Retry-After": "0"})
            return
        data = RenderSuccess(files=[], metrics={"replica": fake.name}).encode()
        self.send_response(200)
        self.send_header("Content-Type", RESULT_MEDIA_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeReplica(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, busy: int = 0, queued: int = 0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.busy, self.queued = busy, queued
        self.health_status = 200
        self.render_mode = "ok"
        self.health_hits = 0
        self.render_hits = 0
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def replicas(monkeypatch) -> Iterator[list[FakeReplica]]:
    monkeypatch.setattr(render_client, "_REPLICA_SETS", {})  # no health cached from another test
    made = [FakeReplica(n) for n in ("a", "b", "c")]
    yield made
    for r in made:
        r.stop()


def _render(urls: list[str]) -> RenderSuccess:
    result = asyncio.run(RenderClient(base_url=",".join(urls), busy_retries=1).render("result = None"))
    assert isinstance(result, RenderSuccess)
    return result


def test_the_least_busy_replica_gets_the_job(replicas) -> None:
    a, b, c = replicas
    a.busy, a.queued = 2, 1
    b.busy = 1
    c.busy, c.queued = 2, 4
    result = _render([r.url for r in replicas])
    assert result.metrics["replica"] == "b"
    assert (a.render_hits, b.render_hits, c.render_hits) == (0, 1, 0)


def test_equally_busy_replicas_take_turns(replicas, monkeypatch) -> None:
    monkeypatch.setattr(render_client, "HEALTH_TTL_S", 60.0)
    chosen = [_render([r.url for r in replicas]).metrics["replica"] for _ in range(6)]
    assert sorted(chosen) == ["a", "a", "b", "b", "c", "c"]
    assert chosen[:3] != [chosen[0]] * 3 and len(set(chosen[:3])) == 3


def test_a_refused_connection_moves_on_to_the_next_replica(replicas, monkeypatch) -> None:
    """The cached health still says `a` is the least busy, but it is gone: the job goes to the next one."""
    monkeypatch.setattr(render_client, "HEALTH_TTL_S", 60.0)
    a, b, c = replicas
    b.busy, c.busy = 3, 5
    urls = [r.url for r in replicas]
    assert _render(urls).metrics["replica"] == "a"
    a.stop()
    assert _render(urls).metrics["replica"] == "b"
    assert _render(urls).metrics["replica"] == "b"  # `a` stays last until a health check says otherwise


def test_a_503_moves_on_to_the_next_replica(replicas) -> None:
    a, b, c = replicas
    a.render_mode = "503"
    b.busy, c.busy = 3, 5
    assert _render([r.url for r in replicas]).metrics["replica"] == "b"
    assert (a.render_hits, b.render_hits, c.render_hits) == (1, 1, 0)


def test_a_replica_whose_health_is_503_is_asked_last(replicas) -> None:
    a, b, c = replicas
    a.health_status = 503  # its zygote does not answer
    b.busy, c.busy = 7, 5
    assert _render([r.url for r in replicas]).metrics["replica"] == "c"
    assert a.render_hits == 0


def test_a_job_lost_mid_render_is_not_sent_again(replicas) -> None:
    """The replica accepted the job and broke off: the person gets a retry offer, no second replica runs it."""
    a, b, c = replicas
    a.render_mode = "drop"
    b.busy, c.busy = 3, 5
    with pytest.raises(RenderUnavailable, match="try again"):
        asyncio.run(RenderClient(base_url=",".join(r.url for r in replicas)).render("result = None"))
    assert (a.render_hits, b.render_hits, c.render_hits) == (1, 0, 0)


def test_every_replica_unreachable_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(render_client, "_REPLICA_SETS", {})
    dead = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead.append(f"http://127.0.0.1:{s.getsockname()[1]}")
        s.close()
    with pytest.raises(RenderUnavailable, match="not reachable"):
        asyncio.run(RenderClient(base_url=",".join(dead)).render("result = None"))


def test_health_is_cached_then_asked_again_after_it_expires(replicas, monkeypatch) -> None:
    monkeypatch.setattr(render_client, "HEALTH_TTL_S", 60.0)
    a, b, c = replicas
    b.busy, c.busy = 3, 5
    urls = [r.url for r in replicas]
    assert _render(urls).metrics["replica"] == "a"
    a.busy = 9  # `a` got busy; the cached answer still says it is idle
    assert _render(urls).metrics["replica"] == "a"
    assert (a.health_hits, b.health_hits, c.health_hits) == (1, 1, 1)
    monkeypatch.setattr(render_client, "HEALTH_TTL_S", 0.0)  # the cache has expired
    assert _render(urls).metrics["replica"] == "b"
    assert (a.health_hits, b.health_hits, c.health_hits) == (2, 2, 2)


def test_one_replica_is_not_probed(replicas) -> None:
    """A single URL behaves as before replicas existed: no /health round trip before each render."""
    a = replicas[0]
    assert _render([a.url]).metrics["replica"] == "a"
    assert a.health_hits == 0


def test_a_name_expands_to_every_address_it_resolves_to() -> None:
    urls = asyncio.run(resolve_replicas("http://localhost:8090"))
    addrs = {info[4][0] for info in socket.getaddrinfo("localhost", 8090, type=socket.SOCK_STREAM)}
    assert urls and len(urls) == len(addrs)
    assert all(u.endswith(":8090") for u in urls)
    assert "http://127.0.0.1:8090" in urls
    assert asyncio.run(resolve_replicas("http://no-such-render-host.invalid:8090")) == []


def test_the_real_render_service_behind_a_dead_replica(render_service, monkeypatch) -> None:
    """A dead address beside the real service: the render still completes (the dead one is tried last)."""
    from chat3d.settings import reset_settings_cache

    monkeypatch.setattr(render_client, "_REPLICA_SETS", {})
    monkeypatch.setenv("RENDER_SERVICE_TOKEN", render_service.token)
    reset_settings_cache()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    try:
        result = asyncio.run(RenderClient(base_url=f"{dead},{render_service.url}").render(
            "from build123d import *\nresult = Box(10, 10, 10)", formats=("stl",)))
    finally:
        reset_settings_cache()
    assert isinstance(result, RenderSuccess)
    assert [f.format for f in result.files] == ["stl"]

"""A local server speaking the OpenAI, Anthropic and Ollama wire protocols, and wire-format helpers.

A uniquely named module (not conftest) so test files can import it unambiguously.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer: a JSON body, or a stream of pre-encoded chunks, after an optional delay."""

    status: int = 200
    body: dict | None = None
    chunks: list[str] | None = None
    media_type: str = "text/event-stream"
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict
    body: dict


class FakeLLMServer:
    """Answers each POST with the next queued Reply and records what it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.url = ""
        self.accepted_keys: set[str] | None = None  # when set, model listings refuse other keys with a 401

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.received.clear()
        self.accepted_keys = None

    async def _handle(self, request: Request) -> Response:
        self.received.append(Received(request.url.path, dict(request.headers), await request.json()))
        reply = self.replies.pop(0) if self.replies else Reply(500, {"error": "nothing queued"})
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.chunks is None:
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

        async def stream():
            for chunk in reply.chunks:
                yield chunk.encode()
                await asyncio.sleep(0)

        return StreamingResponse(stream(), status_code=reply.status, media_type=reply.media_type, headers=reply.headers)

    async def _models(self, request: Request) -> Response:
        """Model listings, as each SDK's `models.list()` expects: Anthropic (x-api-key), OpenAI (Bearer), Ollama."""
        headers = dict(request.headers)
        self.received.append(Received(request.url.path, headers, {}))
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if self.accepted_keys is not None and key not in self.accepted_keys:
            return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                                status_code=401)
        if request.url.path == "/api/tags":
            return JSONResponse({"models": [{"name": "llama3.1:latest", "model": "llama3.1:latest", "size": 1}]})
        if "anthropic-version" in headers:
            return JSONResponse({"data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                                           "created_at": "2025-09-29T00:00:00Z"}],
                                 "has_more": False, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"})
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ("gpt-4.1", "gpt-4.1-mini")
        ]})

    def app(self) -> Starlette:
        paths = ["/v1/chat/completions", "/v1/messages", "/api/chat"]
        routes = [Route(p, self._handle, methods=["POST"]) for p in paths]
        routes += [Route(p, self._models, methods=["GET"]) for p in ("/v1/models", "/api/tags")]
        routes.append(Route("/api/version", lambda _: JSONResponse({"version": "0.0.0-fake"}), methods=["GET"]))
        return Starlette(routes=routes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sse(*events: dict, done: bool = False, named: bool = False) -> list[str]:
    """Server-sent events; Anthropic names each event after its `type`, OpenAI ends with [DONE]."""
    chunks = [(f"event: {e['type']}\n" if named else "") + f"data: {json.dumps(e)}\n\n" for e in events]
    return chunks + (["data: [DONE]\n\n"] if done else [])


def ndjson(*parts: dict) -> list[str]:
    return [json.dumps(p) + "\n" for p in parts]


@contextlib.contextmanager
def serving(fake):
    """Serve a fake (anything with `.app()`) on a free local port in a thread; `fake.url` is its address."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning",
                                          timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)

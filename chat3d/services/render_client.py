"""HTTP client for the render service: one call, typed results, clear errors.

The service answers 200 with files and metrics, 422 when the program itself failed (kind, message,
line), 400 for a malformed request, 429/503 when busy (with Retry-After). Busy answers are retried a few
times; an unreachable service becomes `RenderUnavailable` with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from chat3d.services.outbound_http import async_client
from chat3d.settings import get_settings

DEFAULT_FORMATS = ("stl", "step", "3mf", "glb", "py")


@dataclass
class RenderedFile:
    format: str
    filename: str
    data: bytes
    sha256: str


@dataclass
class RenderSuccess:
    files: list[RenderedFile]
    metrics: dict[str, Any]
    log: str = ""


@dataclass
class RenderFailure:
    """The program failed: what to tell the person (and the repair loop)."""

    kind: str
    message: str
    line: int | None = None
    detail: str = ""


class RenderUnavailable(Exception):
    """The service could not be reached or stayed busy; nothing is wrong with the program."""


@dataclass
class RenderClient:
    base_url: str = field(default_factory=lambda: get_settings().effective_render_url)
    busy_retries: int = 5

    async def render(
        self, code: str, *, formats: tuple[str, ...] = DEFAULT_FORMATS, timeout_s: float | None = None, user_id: str | None = None,
        inputs: list[tuple[str, bytes]] | None = None,
    ) -> RenderSuccess | RenderFailure:
        """Render `code`; `inputs` are (bare name, bytes) files the program reads, e.g. an imported STEP."""
        cap = timeout_s or get_settings().render_timeout_s
        body: dict[str, Any] = {"code": code, "formats": list(formats), "timeout_s": cap}
        if inputs:
            body["inputs"] = [{"name": n, "content_base64": base64.b64encode(d).decode()} for n, d in inputs]
        headers = {"X-Chat3D-User": user_id} if user_id else {}
        token = get_settings().render_service_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with async_client(base_url=self.base_url, timeout=httpx.Timeout(cap + 30, connect=3)) as client:
            for attempt in range(self.busy_retries + 1):
                try:
                    resp = await client.post("/render", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise RenderUnavailable(
                        "The render service is not reachable right now; try again in a moment."
                    ) from exc
                if resp.status_code in (429, 503) and attempt < self.busy_retries:
                    await asyncio.sleep(min(float(resp.headers.get("Retry-After", "1") or 1), 5.0))
                    continue
                return _parse(resp)
        raise RenderUnavailable("The render service stayed busy; try again in a moment.")


def _parse(resp: httpx.Response) -> RenderSuccess | RenderFailure:
    try:
        payload = resp.json()
    except ValueError:
        raise RenderUnavailable(f"The render service gave an unreadable answer (HTTP {resp.status_code}).") from None
    if resp.status_code == 200 and payload.get("ok"):
        files = []
        for f in payload.get("files", []):
            data = base64.b64decode(f["content_base64"])
            digest = hashlib.sha256(data).hexdigest()
            if digest != f.get("sha256"):
                raise RenderUnavailable("A rendered file arrived damaged (checksum mismatch); try again.")
            files.append(RenderedFile(format=f["format"], filename=f["filename"], data=data, sha256=digest))
        return RenderSuccess(files=files, metrics=payload.get("metrics", {}), log=payload.get("log", ""))
    if resp.status_code == 422:
        err = payload.get("error", {})
        return RenderFailure(kind=err.get("kind", "runtime"), message=err.get("message", "The program failed."),
                             line=err.get("line"), detail=err.get("detail", ""))
    if resp.status_code in (429, 503):
        raise RenderUnavailable("The render service is busy; try again in a moment.")
    message = (payload.get("error") or {}).get("message") if isinstance(payload.get("error"), dict) else None
    raise RenderUnavailable(f"The render service refused the request (HTTP {resp.status_code}): {message or 'unknown error'}")

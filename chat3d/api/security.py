"""Security headers on every response, as pure ASGI middlewares (BaseHTTPMiddleware would buffer SSE).

The FastAPI app wraps the whole Reflex app (`api_transformer`), so these middlewares also see Reflex's
own paths: the `/_event` websocket (Origin check) and `/_upload` (sign-in and size cap before parsing).
The CSP is measured against the built frontend (see `content_security_policy`); CORS headers come from
Reflex, configured in rxconfig.py with `allowed_origins()`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat3d.settings import REPO_ROOT, get_settings

# Stored files (model outputs, uploads, exports) are data, never a page of our origin: even opened directly,
# an SVG or HTML-looking file runs no script (sandbox, no sources) and is not sniffed into something else.
STORED_FILE_CSP = "default-src 'none'; sandbox"
# Formats our own pages embed: thumbnails and attachments through <img>, the viewer's GLB through fetch.
# Everything else (svg, step, stl, zip, ...) downloads as an attachment.
EMBEDDED_FORMATS = frozenset({"png", "jpeg", "webp", "glb", "views"})  # views: the review's views.png
# Browsers cached stored files "immutable" for a year, some (SVG) inline under the page CSP. Each browser's
# first page load after that changed gets `Clear-Site-Data: "cache"` once (marked by this cookie), so no
# copy cached with the old headers is reused; bump the value when stored-file headers change again.
CACHE_EPOCH_COOKIE = "chat3d_cache_epoch"
CACHE_EPOCH = "2"


def stored_file_headers(fmt: str, filename: str) -> dict[str, str]:
    disposition = "inline" if fmt in EMBEDDED_FORMATS else "attachment"
    return {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": STORED_FILE_CSP,
        "X-Content-Type-Options": "nosniff",
    }


def origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins() -> list[str]:
    """Origins other than our own that may call us with credentials: APP_BASE_URL's, CORS_ALLOWED_ORIGINS,
    and in development localhost/127.0.0.1 on PORT. Never `*`."""
    settings = get_settings()
    found = [origin_of(settings.app_base_url)] + [origin_of(o) for o in settings.cors_origins]
    if settings.chat3d_env != "production":
        found += [f"http://localhost:{settings.port}", f"http://127.0.0.1:{settings.port}"]
    return list(dict.fromkeys(o for o in found if o))


_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def inline_script_hashes(build_dir: Path) -> list[str]:
    """CSP hashes of every inline <script> in the built frontend's HTML (React Router's hydration scripts)."""
    found: set[str] = set()
    for page in sorted(build_dir.rglob("*.html")) if build_dir.is_dir() else []:
        for body in _INLINE_SCRIPT.findall(page.read_bytes()):
            found.add("'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'")
    return sorted(found)


def content_security_policy() -> str:
    """The page CSP, measured against the Reflex 0.10 build:

    - scripts: our own files plus the hash of each inline script of the built HTML, no 'unsafe-inline'.
      'unsafe-eval' stays: Reflex runs `rx.call_script` (sign-in, sign-out, forms) through eval.
    - styles keep 'unsafe-inline': Radix Themes and emotion set style attributes and inject <style> at run time.
    - connect-src 'self' covers our own ws:/wss: (CSP 3); no websocket to any other host.
    """
    hashes = " ".join(inline_script_hashes(REPO_ROOT / ".web" / "build" / "client"))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-eval' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        self.csp: str | None = None  # read on first request: the frontend may be built after import
        if hsts:  # only meaningful, and only safe, when the app is served over HTTPS
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if _is_html(headers) and _cache_epoch(scope) != CACHE_EPOCH:
                    headers.append("Clear-Site-Data", '"cache"')
                    headers.append(
                        "Set-Cookie",
                        f"{CACHE_EPOCH_COOKIE}={CACHE_EPOCH}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
                    )
                csp = self.csp or content_security_policy()
                if "sha256-" in csp:  # the build is there: keep it (until then, look again next time)
                    self.csp = csp
                headers.setdefault("Content-Security-Policy", csp)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(headers: MutableHeaders) -> bool:
    return headers.get("content-type", "").startswith("text/html")


def _cache_epoch(scope: Scope) -> str:
    cookie = SimpleCookie()
    try:
        cookie.load(dict(scope["headers"]).get(b"cookie", b"").decode("latin-1"))
    except Exception:
        return ""
    return cookie[CACHE_EPOCH_COOKIE].value if CACHE_EPOCH_COOKIE in cookie else ""


class BodySizeLimitMiddleware:
    """Refuse an upload larger than its route's cap before the body is read (or as soon as it exceeds it).

    FastAPI parses a multipart body completely (spooling it to disk) before a route runs, so a size check in
    the route comes too late: a client could stream gigabytes first. A declared Content-Length over the cap
    is answered at once; a chunked body is cut off when it passes the cap.
    """

    def __init__(self, app: ASGIApp, limits: dict[str, tuple[int, str]]) -> None:
        self.app = app
        self.limits = limits  # path -> (max bytes, message for a person)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT") or scope["path"] not in self.limits:
            await self.app(scope, receive, send)
            return
        cap, message = self.limits[scope["path"]]
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _refuse(send, message)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > cap:
                    raise _BodyTooLarge()
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _refuse(send, message)


class _BodyTooLarge(Exception):
    pass


async def _refuse(send: Send, message: str, status: int = 400) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *[(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()],
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WebsocketOriginMiddleware:
    """Refuse a websocket (Reflex's `/_event`) opened by a page of a foreign origin.

    Browsers send the page's Origin on every websocket handshake and apply no CORS to websockets, so a page
    on another port or host could otherwise drive a signed-in tab's state with the user's cookie. Allowed:
    our own origin (the Origin naming the Host the request came to) and `allowed_origins()`. Clients that
    send no Origin are not browsers and carry no one else's cookie.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.allowed = set(allowed_origins())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1").strip().lower()
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            if origin and origin not in self.allowed and urlsplit(origin).netloc != host:
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008, "reason": "origin not allowed"})
                return
        await self.app(scope, receive, send)


class UploadGuardMiddleware:
    """Reflex's `/_upload` (the composer's images, CAD imports): signed-in callers only, body capped first.

    Reflex parses the whole multipart body before its handler runs, and the handler is what checks the
    user, so without this an anonymous client could make the app spool any amount of data. The cap is
    checked against Content-Length before anything is read and again while a chunked body streams in.
    """

    def __init__(self, app: ASGIApp, path: str, cap: int, message: str) -> None:
        self.app = app
        self.path = path
        self.limit = BodySizeLimitMiddleware(app, {path: (cap, message)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not await asyncio.to_thread(_signed_in, dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")):
            await _refuse(send, "Sign in to upload files.", status=401)
            return
        await self.limit(scope, receive, send)


def _signed_in(cookie_header: str) -> bool:
    from chat3d.api.deps import COOKIE_NAME
    from chat3d.db.engine import session_scope
    from chat3d.domain.errors import DomainError
    from chat3d.domain.sessions import user_from_token

    cookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:
        return False
    token = cookie[COOKIE_NAME].value if COOKIE_NAME in cookie else ""
    if not token:
        return False
    try:
        with session_scope() as session:
            return user_from_token(session, token) is not None
    except DomainError:
        return False

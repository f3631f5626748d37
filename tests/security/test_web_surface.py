"""The app's web surface attacked over the wire, against the real running app (`reflex run --env prod`).

Each test is one finding of issue 21 replayed as an attacker would: stored files served as pages of our origin,
credentialed CORS and websockets from other origins, anonymous and unbounded `/_upload`, the dev mailbox and the
live query text reachable by crafted Reflex events, the API map published in production. Browser-only findings
(script actually running) are in tests/browser/test_xss.py.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websocket  # websocket-client: a raw client, as an attacker's script would use

from chat3d.settings import reset_settings_cache
from tests.conftest import _admin_exec, database_url_for
from tests.support.app_data import AppData
from tests.support.app_process import AppProcess
from tests.support.servers import free_port

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery-9"


def _foreign_origin() -> str:
    """A page on another port of the same host: another dev server, a printer's admin page, anything."""
    return f"http://127.0.0.1:{free_port()}"


# --- 1. stored files -------------------------------------------------------------------------------------------


def test_stored_files_are_never_pages_of_our_origin(app_data: AppData) -> None:
    """A program-made SVG (or anything else stored) opened directly, from the owner's list or a share link,
    is a download with no script and no sniffing; only what our pages embed (images, the viewer's GLB) is
    inline, and even that under `default-src 'none'; sandbox`."""
    owner, email = app_data.user()
    svg_id, png_id, token = app_data.shared_svg(owner)
    cookie = app_data.login(email)
    base = app_data.app.url
    for url, headers in [(f"{base}/api/files/{svg_id}", {"Cookie": f"chat3d_session={cookie}"}),
                         (f"{base}/api/share/{token}/files/{svg_id}", {})]:
        resp = httpx.get(url, headers=headers)
        if resp.status_code == 404:  # a share may no longer list SVGs at all: just as safe
            continue
        assert resp.status_code == 200, (url, resp.text)
        assert resp.headers["content-disposition"].startswith("attachment;"), url
        assert resp.headers["content-security-policy"] == "default-src 'none'; sandbox", url
        assert resp.headers["x-content-type-options"] == "nosniff"
    png = httpx.get(f"{base}/api/files/{png_id}", headers={"Cookie": f"chat3d_session={cookie}"})
    assert png.status_code == 200 and png.headers["content-disposition"].startswith("inline;")
    assert png.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_copies_cached_with_the_old_headers_are_purged_once_per_browser(running_app: AppProcess) -> None:
    """Stored files were cached "immutable" for a year with inline headers: a browser's first page load now
    clears our origin's cache once (and remembers that it did), so none of those copies is reused."""
    first = httpx.get(f"{running_app.url}/")
    assert first.status_code == 200 and first.headers["clear-site-data"] == '"cache"'
    epoch = first.cookies["chat3d_cache_epoch"]
    again = httpx.get(f"{running_app.url}/", cookies={"chat3d_cache_epoch": epoch})
    assert "clear-site-data" not in again.headers
    assert "clear-site-data" not in httpx.get(f"{running_app.url}/health").headers  # pages only, not every call


# --- 4. CORS and the websocket ------------------------------------------------------------------------------------


def test_cors_answers_only_our_own_origins(running_app: AppProcess) -> None:
    """A credentialed request from a foreign origin gets no CORS grant (the browser then hides the answer);
    the development origins on PORT still do."""
    port = urlsplit(running_app.url).port
    for origin in (_foreign_origin(), "http://evil.example", "null"):
        pre = httpx.options(f"{running_app.url}/api/auth/me", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-chat3d-csrf"})
        got = httpx.get(f"{running_app.url}/api/auth/me", headers={"Origin": origin})
        for resp in (pre, got):
            assert resp.headers.get("access-control-allow-origin") in (None, ""), (origin, resp.headers)
    for origin in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        got = httpx.get(f"{running_app.url}/api/auth/me", headers={"Origin": origin})
        assert got.headers.get("access-control-allow-origin") == origin


def _ws_url(app: AppProcess) -> str:
    return app.url.replace("http://", "ws://") + f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}"


def test_the_reflex_websocket_refuses_foreign_origins(running_app: AppProcess) -> None:
    """A page on another origin cannot open the app's websocket (browsers apply no CORS to websockets, and the
    socket carries the user's cookie); our own origin, and clients that send no Origin, still connect."""
    for origin in (_foreign_origin(), "http://evil.example"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(_ws_url(running_app), origin=origin, timeout=30).close()
        assert refused.value.status_code == 403
    for origin in (running_app.url, None):
        ws = websocket.create_connection(_ws_url(running_app), timeout=30,
                                         **({"origin": origin} if origin else {"suppress_origin": True}))
        try:
            assert ws.recv().startswith("0{")  # Engine.IO open packet
        finally:
            ws.close()


# --- crafted Reflex events (the mailbox, live query text) -------------------------------------------------------


class ReflexSocket:
    """The Reflex websocket spoken by hand: Engine.IO v4 + Socket.IO v5 on namespace /_event, events shaped as
    the frontend sends them (any client can send any event with any payload)."""

    def __init__(self, app: AppProcess, cookie: str | None = None) -> None:
        headers = [f"Cookie: chat3d_session={cookie}"] if cookie else []
        self.ws = websocket.create_connection(_ws_url(app), origin=app.url, header=headers, timeout=30)
        assert self.ws.recv().startswith("0{")
        self.ws.send("40/_event,")
        self.frames: list[str] = []
        self._read(until=lambda f: f.startswith("40/_event"))

    def _read(self, until=None, quiet_s: float = 4.0) -> None:
        """Collect frames until one matches `until`, or until the server has said nothing for `quiet_s`."""
        self.ws.settimeout(quiet_s)
        try:
            while True:
                frame = self.ws.recv()
                if frame == "2":  # Engine.IO ping
                    self.ws.send("3")
                    continue
                self.frames.append(frame)
                if until and until(frame):
                    return
        except websocket.WebSocketTimeoutException:
            return

    def send(self, state_name: str, handler: str, path: str, until=None, **payload) -> str:
        """Send one event; every frame the server answered with, as text."""
        start = len(self.frames)
        event = {"name": f"{state_name}.{handler}", "payload": payload,
                 "router_data": {"pathname": path, "asPath": path}}
        self.ws.send("42/_event," + json.dumps(["event", event]))
        self._read(until)
        return "\n".join(self.frames[start:])

    def close(self) -> None:
        self.ws.close()


@contextmanager
def reflex_socket(app: AppProcess, cookie: str | None = None) -> Iterator[ReflexSocket]:
    sock = ReflexSocket(app, cookie)
    try:
        yield sock
    finally:
        sock.close()


def _latest_mail(data_dir: Path, to: str) -> dict:
    from tests.support.mailbox import wait_for_mail

    return wait_for_mail(data_dir, to, "", timeout=60)


def test_the_dev_mailbox_shows_nothing_to_anyone_but_an_admin(app_data: AppData) -> None:
    """The admin asks for a password reset; an anonymous websocket client, and a signed-in non-admin, send the
    mailbox's own events (list, open that mail): neither receives the reset link."""
    from chat3d.pages.mailbox import MailboxState

    httpx.post(f"{app_data.app.url}/api/auth/password-reset/request", json={"email": ADMIN_EMAIL})
    mail = _latest_mail(app_data.app.data_dir, ADMIN_EMAIL)
    secret = next(link for link in mail["links"] if "token" in link or "reset" in link).split("=")[-1]
    _, email = app_data.user()
    state = MailboxState.get_full_name()
    for cookie in (None, app_data.login(email)):
        with reflex_socket(app_data.app, cookie) as sock:
            seen = sock.send(state, "load", "/dev/mailbox")
            seen += sock.send(state, "open", "/dev/mailbox", message_id=mail["id"])
        assert secret not in seen and mail["subject"] not in seen, "the mailbox answered a non-admin"
    # The admin still reads it (the page's purpose in development).
    with reflex_socket(app_data.app, app_data.login(ADMIN_EMAIL, ADMIN_PASSWORD)) as sock:
        assert secret in sock.send(state, "open", "/dev/mailbox", until=lambda f: secret in f, message_id=mail["id"])


# --- 6. /_upload ----------------------------------------------------------------------------------------------------


def _raw_upload(app: AppProcess, declared: int, sent: int, cookie: str | None) -> tuple[int, bytes]:
    """POST /_upload declaring `declared` bytes but sending only `sent`: the status line the app answers with
    before the rest of the body (a server that reads the whole body first would wait here forever)."""
    host, port = urlsplit(app.url).hostname, urlsplit(app.url).port
    head = (f"POST /_upload HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {declared}\r\nReflex-Client-Token: {uuid.uuid4()}\r\n"
            f"Reflex-Event-Handler: reflex___state____state.chat3d___state___chat_composer____composer_state.handle_upload\r\n"
            + (f"Cookie: chat3d_session={cookie}\r\n" if cookie else "") + "\r\n")
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(head.encode() + b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n")
        sock.sendall(b"\0" * sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def test_uploads_need_a_signed_in_user_and_are_capped_before_parsing(app_data: AppData) -> None:
    """`/_upload` parsed the whole body before any check, anonymous callers included (400 MB: +250 MB RSS).
    Now an anonymous caller is refused from the headers alone, and a declared or streamed body over the cap
    is refused without being read."""
    status, body = _raw_upload(app_data.app, declared=400 * 1024 * 1024, sent=64 * 1024, cookie=None)
    assert status == 401 and b"Sign in" in body
    _, email = app_data.user()
    cookie = app_data.login(email)
    status, body = _raw_upload(app_data.app, declared=400 * 1024 * 1024, sent=64 * 1024, cookie=cookie)
    assert status == 400 and b"at most" in body
    # A chunked body has no length to check up front: it is cut off once it passes the cap.
    host, port = urlsplit(app_data.app.url).hostname, urlsplit(app_data.app.url).port
    chunk = b"\0" * (1024 * 1024)
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall((f"POST /_upload HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
                      f"Content-Type: multipart/form-data; boundary=b\r\nReflex-Client-Token: {uuid.uuid4()}\r\n"
                      f"Reflex-Event-Handler: x.y\r\nCookie: chat3d_session={cookie}\r\n\r\n").encode())
        answer = b""
        try:
            for _ in range(200):  # 200 MB, far over the cap
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sock.settimeout(0.001)
                try:
                    answer += sock.recv(65536)
                except (TimeoutError, BlockingIOError):
                    pass
                sock.settimeout(60)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not answer:
            sock.settimeout(60)
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


# --- 14. API docs ------------------------------------------------------------------------------------------------


def test_api_docs_are_served_only_where_turned_on(running_app: AppProcess) -> None:
    """Development serves /api/docs and /api/openapi.json (the default outside production)."""
    assert httpx.get(f"{running_app.url}/api/openapi.json").json()["info"]["title"] == "Chat3D API"
    assert httpx.get(f"{running_app.url}/api/docs").status_code == 200


@pytest.fixture(scope="module")
def production_api(pg_admin_url: str, migrated_template: str, tmp_path_factory) -> Iterator[str]:
    """The API as production runs it (CHAT3D_ENV=production, a private JWT_SECRET), in its own uvicorn process."""
    from tests.conftest import TEMPLATE_DB
    from tests.events.appserver import ApiServer

    name = f"chat3d_prod_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    root = tmp_path_factory.mktemp("prod-api")
    env = {"DATABASE_URL": database_url_for(pg_admin_url, name), "DATA_DIR": str(root / "data"),
           "CHAT3D_ENV": "production", "JWT_SECRET": uuid.uuid4().hex * 2, "REDIS_URL": "", "BCRYPT_ROUNDS": "12",
           "APP_BASE_URL": "https://chat3d.example", "RENDER_SERVICE_URL": "http://127.0.0.1:9"}
    server = ApiServer(env).start(root)
    try:
        yield server.url
    finally:
        server.stop()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_production_publishes_no_api_map(production_api: str) -> None:
    """In production /api/docs and /api/openapi.json are unknown API paths (404) unless API_DOCS=true."""
    for path in ("/api/openapi.json", "/api/docs"):
        resp = httpx.get(production_api + path)
        assert resp.status_code == 404 and resp.json()["error"], path
    assert httpx.get(production_api + "/health").status_code == 200


def test_production_grants_cors_to_app_base_url_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What rxconfig hands Reflex in production: APP_BASE_URL's origin and nothing else (no localhost, never *)."""
    from chat3d.api.security import allowed_origins

    for key, value in {"CHAT3D_ENV": "production", "JWT_SECRET": "x" * 64, "PORT": "3000", "BCRYPT_ROUNDS": "12",
                       "APP_BASE_URL": "https://chat3d.example/app/", "CORS_ALLOWED_ORIGINS": ""}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    try:
        assert allowed_origins() == ["https://chat3d.example"]
        monkeypatch.setenv("APP_BASE_URL", "")
        reset_settings_cache()
        assert allowed_origins() == []
    finally:
        monkeypatch.undo()
        reset_settings_cache()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket in LISTEN on `port`, read from the kernel's tables (no traffic sent)."""
    import ipaddress

    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text(encoding="utf-8").splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            host_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(host_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)) if width == 32 else str(ipaddress.IPv4Address(raw)))
    return found


def test_make_dev_listens_on_loopback_only(running_app: AppProcess) -> None:
    """The session app is `make dev` itself (scripts/dev.sh). It listens on 127.0.0.1 unless CHAT3D_HOST says
    otherwise; before, it listened on every address, so anyone on the network reached its mailbox and seed admin."""
    assert _listening_addresses(running_app.port) == {"127.0.0.1"}

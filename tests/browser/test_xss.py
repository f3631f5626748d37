"""Script injection and cross-origin abuse in a real browser (Debian Chromium) against the running app.

Each test is a finding of issue 21 replayed as the attacker did it: a stored SVG opened from a share link, a
page on another port reading the account over CORS or driving the Reflex websocket, chat markdown carrying an
`<iframe srcdoc>`, and an inline script slipped into a page. "Script ran" is observed the way it mattered: a
marker written into our origin's localStorage, or an answer read across origins.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from tests.support.app_data import AppData
from tests.support.servers import free_port


def _signed_in(page: Page, app_data: AppData, email: str, password: str | None = None) -> None:
    cookie = app_data.login(email, password) if password else app_data.login(email)
    page.context.add_cookies([{"name": "chat3d_session", "value": cookie, "url": app_data.app.url,
                               "httpOnly": True, "sameSite": "Lax"}])


def _script_ran_on_our_origin(page: Page, base: str) -> str | None:
    page.goto(base + "/health")
    return page.evaluate("() => localStorage.getItem('xss')")


def test_a_shared_svg_runs_no_script_for_whoever_opens_it(page: Page, app_data: AppData) -> None:
    """The attacker's model wrote an SVG with a script and shared the version; the admin opens the SVG link.
    Before: the SVG rendered inline on our origin and its script ran in the admin's session."""
    attacker, _ = app_data.user()
    svg_id, _, token = app_data.shared_svg(attacker)
    from tests.security.test_web_surface import ADMIN_EMAIL, ADMIN_PASSWORD

    _signed_in(page, app_data, ADMIN_EMAIL, ADMIN_PASSWORD)
    base = app_data.app.url
    for url in (f"{base}/api/share/{token}/files/{svg_id}",):
        try:
            page.goto(url)
            page.wait_for_timeout(300)  # let an inline document's script run, if one was rendered
        except PlaywrightError as exc:  # "Download is starting": the safe outcome
            assert "Download" in str(exc) or "net::ERR_ABORTED" in str(exc), exc
    assert _script_ran_on_our_origin(page, base) is None


def test_the_owner_opening_their_own_stored_svg_runs_no_script(page: Page, app_data: AppData) -> None:
    owner, email = app_data.user()
    svg_id, _, _ = app_data.shared_svg(owner)
    _signed_in(page, app_data, email)
    try:
        page.goto(f"{app_data.app.url}/api/files/{svg_id}")
        page.wait_for_timeout(300)
    except PlaywrightError as exc:
        assert "Download" in str(exc) or "net::ERR_ABORTED" in str(exc), exc
    assert _script_ran_on_our_origin(page, app_data.app.url) is None


# --- a page on another port of the same host -----------------------------------------------------------------


@pytest.fixture
def attacker_site() -> Iterator[tuple[str, dict]]:
    """A page served from another port (another dev server, say): `/attack?target=...` runs the given script."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = pages.get(self.path.split("?")[0], "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}", pages
    finally:
        server.shutdown()


def test_a_page_on_another_port_cannot_read_or_change_the_account(page: Page, app_data: AppData,
                                                                  attacker_site) -> None:
    """Before: CORS reflected any Origin with credentials, so the attacker's page read /api/auth/me (and could
    send changes with the CSRF header). Now the browser hides the answer and refuses the preflight."""
    _, email = app_data.user()
    _signed_in(page, app_data, email)
    site, pages = attacker_site
    pages["/attack"] = "<html><body>hello</body></html>"
    page.goto(site + "/attack")
    read = page.evaluate("""async (base) => {
        try { const r = await fetch(base + '/api/auth/me', {credentials: 'include'}); return await r.text(); }
        catch (e) { return 'blocked: ' + e; } }""", app_data.app.url)
    assert email not in read and read.startswith("blocked"), read
    changed = page.evaluate("""async (base) => {
        try { const r = await fetch(base + '/api/profile', {method: 'PATCH', credentials: 'include',
                headers: {'Content-Type': 'application/json', 'X-Chat3D-CSRF': '1'},
                body: JSON.stringify({displayName: 'pwned'})}); return 'sent ' + r.status; }
        catch (e) { return 'blocked: ' + e; } }""", app_data.app.url)
    assert changed.startswith("blocked"), changed


def test_a_page_on_another_port_cannot_open_the_app_websocket(page: Page, app_data: AppData,
                                                              attacker_site) -> None:
    """The Reflex websocket carries the user's cookie and browsers apply no CORS to it: a foreign page that
    opens it could drive the user's state. It must not connect at all."""
    _, email = app_data.user()
    _signed_in(page, app_data, email)
    site, pages = attacker_site
    pages["/attack"] = "<html><body>hello</body></html>"
    page.goto(site + "/attack")
    outcome = page.evaluate("""(url) => new Promise((done) => {
        const ws = new WebSocket(url);
        ws.onmessage = (m) => done('open: ' + m.data);
        ws.onerror = () => done('refused');
        ws.onclose = () => done('refused');
        setTimeout(() => done('no answer'), 20000); })""",
        app_data.app.url.replace("http://", "ws://") + f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}")
    assert outcome == "refused", outcome


# --- chat markdown and the page CSP ---------------------------------------------------------------------------


def _chat_with_text(app_data: AppData, owner: uuid.UUID, text: str) -> str:
    from chat3d.db.engine import session_scope
    from chat3d.db.models import ItemRole
    from chat3d.domain import chats

    with session_scope() as s:
        ctx = chats.create_context(s, owner, name="Markdown")
        chats.add_item(s, ctx, ItemRole.user, [{"type": "text", "text": text}])
        chats.add_item(s, ctx, ItemRole.assistant, [{"type": "text", "text": "Sure: " + text}])
        return str(ctx.id)


def test_chat_markdown_renders_no_raw_html(page: Page, app_data: AppData) -> None:
    """A message (the user's or a model's, which a prompt can steer) holding `<iframe srcdoc>` ran its script
    in the reader's tab. Now raw HTML is not rendered: no iframe, no script, the markdown around it still is."""
    owner, email = app_data.user()
    payload = ('**Bold** text <iframe srcdoc="<script>parent.localStorage.setItem(\'xss\', \'1\')</script>">'
               '</iframe> <img src="x" onerror="localStorage.setItem(\'xss\', \'2\')">')
    cid = _chat_with_text(app_data, owner, payload)
    _signed_in(page, app_data, email)
    page.goto(f"{app_data.app.url}/chat/{cid}")
    page.get_by_text("Bold").first.wait_for(timeout=60_000)
    assert page.locator("strong", has_text="Bold").count() >= 1
    page.wait_for_timeout(500)  # an iframe's script would have run by now
    assert page.locator("iframe").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("() => localStorage.getItem('xss')") is None


def test_the_page_csp_refuses_injected_inline_script_and_foreign_websockets(page: Page, app_data: AppData,
                                                                            attacker_site) -> None:
    """The built app runs with no CSP violation under the tightened policy (no 'unsafe-inline' for scripts,
    websockets to our own host only), while a script element injected at run time and a websocket to another
    host are refused."""
    _, email = app_data.user()
    _signed_in(page, app_data, email)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in ("/login", "/chat"):
        resp = page.goto(app_data.app.url + path)
        csp = resp.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "ws:" not in csp and "wss:" not in csp, csp
        page.wait_for_load_state("networkidle")
    page.get_by_test_id("empty-state").wait_for(timeout=60_000)  # the app hydrated and its websocket works
    assert violations == [], violations
    site, _ = attacker_site
    injected = page.evaluate("""async (site) => {
        const s = document.createElement('script');
        s.textContent = "window.__injected = 1";
        document.body.appendChild(s);
        const ws = await new Promise((done) => {
            document.addEventListener('securitypolicyviolation', (e) => {
                if (e.blockedURI.startsWith('ws://')) done('refused'); });
            try { const w = new WebSocket(site.replace('http://', 'ws://') + '/x'); w.onopen = () => done('open'); }
            catch (e) { done('refused'); }
            setTimeout(() => done('no verdict'), 10000); });
        return {script: window.__injected === 1, ws}; }""", site)
    assert injected == {"script": False, "ws": "refused"}, injected

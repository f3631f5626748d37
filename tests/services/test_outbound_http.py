"""The app's outgoing clients share one TLS context: certificates are still checked, plain http works."""

from __future__ import annotations

import asyncio
import http.server
import ssl
import subprocess
import threading
from contextlib import contextmanager

import httpx
import pytest

from chat3d.services.outbound_http import async_client, tls_context


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


@contextmanager
def _server(tls_dir=None):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    if tls_dir is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls_dir else 'http'}://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def self_signed(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )
    return tmp_path


def test_an_untrusted_certificate_is_still_refused(self_signed):
    async def fetch(url):
        async with async_client(timeout=5) as client:
            return await client.get(url)

    with _server(self_signed) as url:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            asyncio.run(fetch(url))
        # ...and the same server is fine for a client that trusts it: the refusal was the certificate.
        trusting = ssl.create_default_context(cafile=str(self_signed / "cert.pem"))
        assert httpx.get(url, verify=trusting).text == "hello"


def test_plain_http_and_one_context_per_process():
    async def fetch(url):
        async with async_client(timeout=5) as client:
            return (await client.get(url)).text

    with _server() as url:
        assert asyncio.run(fetch(url)) == "hello"
        assert asyncio.run(fetch(url)) == "hello"
    assert tls_context() is tls_context()
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname

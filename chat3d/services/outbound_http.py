"""The app's outgoing HTTP clients (render service, readiness probe).

httpx builds a new verifying TLS context for every client it makes, loading the whole CA bundle:
about 45 ms of CPU, even for a plain-http URL. The app makes a client per render and per readiness
probe, so they share one context per process instead (same CA bundle, same checks).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def async_client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=tls_context(), **kwargs)

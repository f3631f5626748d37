"""Every route not declared public answers 401 without a token: generated from the app's route table."""

from __future__ import annotations

import re
import uuid

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from chat3d.api import create_api
from chat3d.api.public_routes import PUBLIC_ROUTES


def _protected_routes() -> list[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(create_api().routes):
        for method in route.methods or ():
            if (method, route.path) not in PUBLIC_ROUTES:
                found.add((method, route.path))
    return sorted(found)


PROTECTED = _protected_routes()


def test_the_matrix_covers_the_account_routes() -> None:
    assert {("GET", "/api/auth/me"), ("DELETE", "/api/auth/sessions/{session_id}"), ("GET", "/api/admin/outbox")} <= set(PROTECTED)
    assert all(path.startswith("/api/") for _, path in PROTECTED), "only /api routes may require a user"


def test_every_protected_route_answers_401_without_a_token(api: TestClient) -> None:
    """One client over the whole table (a database per route would make this the slowest test)."""
    wrong = []
    for method, path in PROTECTED:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            resp = api.request(method, url, headers=headers, json={})
            if resp.status_code != 401 or (method != "HEAD" and "error" not in resp.json()):
                wrong.append(f"{method} {path} {headers or ''}: {resp.status_code}")
    assert wrong == []

"""Integer query parameters past PostgreSQL's bigint: a clear 400, never a 500 (found by tests/security/test_fuzz.py).

Every GET route's integer query parameters are taken from the route table, so a new list route is covered
as soon as it exists. `GET /api/events/stream` is left out (an endless response; its `lastEventId` goes
through the same `events_after` query that `/api/events/replay?afterId=` exercises here).
"""

from __future__ import annotations

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from chat3d.api import create_api
from tests.conftest import PASSWORD

TOO_BIG = 2**63  # one past PostgreSQL's bigint


def _query_params(dependant) -> list:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found


def _int_params() -> list[tuple[str, str]]:
    rows = []
    for ctx in iter_route_contexts(create_api().routes):
        route = ctx.route
        if not isinstance(route, APIRoute) or "GET" not in (ctx.methods or ()) or ctx.path == "/api/events/stream":
            continue
        for field in _query_params(route.dependant):
            if field.field_info.annotation is int:
                rows.append((ctx.path, field.alias))
    return sorted(rows)


INT_PARAMS = _int_params()


def _answers(api: TestClient, make_user) -> dict[str, int]:
    make_user("root@example.com", role="admin")
    token = api.post("/api/auth/login", json={"email": "root@example.com", "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    ctx = api.post("/api/chat/contexts", json={}, headers=headers).json()["id"]
    out = {}
    for path, param in INT_PARAMS:
        resp = api.get(path.replace("{context_id}", ctx), params={param: TOO_BIG}, headers=headers)
        out[f"{path}?{param}"] = resp.status_code
    return out


def test_the_table_has_the_paged_routes() -> None:
    assert ("/api/invitations", "offset") in INT_PARAMS and ("/api/events/replay", "afterId") in INT_PARAMS
    assert len(INT_PARAMS) >= 20


def test_limits_are_bounded_already(accounts_env, make_user) -> None:
    """`limit` has `le=200` everywhere: it is refused with 400, so only unbounded parameters remain (below)."""
    api = TestClient(create_api(), raise_server_exceptions=False)
    answers = _answers(api, make_user)
    limits = {k: v for k, v in answers.items() if k.endswith("?limit")}
    assert limits and set(limits.values()) == {400}, limits


def test_huge_offsets_and_ids_are_refused_with_400(accounts_env, make_user) -> None:
    api = TestClient(create_api(), raise_server_exceptions=False)
    answers = _answers(api, make_user)
    server_errors = {k: v for k, v in answers.items() if v >= 500}
    assert server_errors == {}


def test_text_with_a_nul_character_is_refused_with_400_and_nothing_changes(accounts_env, make_user) -> None:
    """PostgreSQL cannot store NUL in text (the long fuzz run found a 500 on login and on the chat search):
    every route answers a clear 400 instead, and what was stored stays as it was."""
    api = TestClient(create_api(), raise_server_exceptions=False)
    make_user("nul@example.com")
    bad = api.post("/api/auth/login", json={"email": "nul\x00@example.com", "password": PASSWORD})
    assert bad.status_code == 400 and "NUL" in bad.json()["error"]
    token = api.post("/api/auth/login", json={"email": "nul@example.com", "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    ctx = api.post("/api/chat/contexts", json={"name": "Bracket"}, headers=headers).json()["id"]

    search = api.get("/api/chat/contexts", params={"q": "Bra\x00"}, headers=headers)
    assert search.status_code == 400 and "NUL" in search.json()["error"]
    rename = api.patch(f"/api/chat/contexts/{ctx}", json={"name": "New\x00name"}, headers=headers)
    assert rename.status_code == 400 and "NUL" in rename.json()["error"]
    listed = api.get("/api/chat/contexts", headers=headers).json()["items"]
    assert [c["name"] for c in listed] == ["Bracket"]

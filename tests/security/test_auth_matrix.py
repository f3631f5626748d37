"""The auth matrix, generated from the app's own route table (was tests/api/test_public_routes.py).

Every route that is not in `PUBLIC_ROUTES` must refuse:

* no token, a malformed token, a token signed with another key, an expired token (minted with the app's
  own JWT settings and a past `exp`) and a revoked token (after logout)       → 401 with `{"error"}`;
* a cookie-authenticated, state-changing request without `X-Chat3D-CSRF: 1`  → 403;
* user B naming user A's resource by id (path ids, and the ids the query routes take in the body) → 404,
  with none of A's data in the answer and A's resource unchanged afterwards.

Non-admins on admin routes (403) are checked by tests/api/test_admin_api.py over every `/api/admin/*`
route; `test_admin_gate_is_exactly_the_admin_prefix` here proves that prefix is exactly the set of routes
behind `require_admin`, so that matrix cannot miss one.

The public list itself is asserted literally: making a route public is a visible change to this file.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import jwt
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.api import create_api
from chat3d.api.deps import COOKIE_NAME, CSRF_HEADER, SAFE_METHODS, require_admin
from chat3d.api.public_routes import PUBLIC_ROUTES, UNKNOWN_API_METHODS, UNKNOWN_API_PATH
from chat3d.db.models import FileKind, Invitation, Notification, Query, StoredFile, User, UserSession, utcnow
from chat3d.domain import chats, files, invitations
from chat3d.domain.sessions import ALGORITHM, start_session
from chat3d.events import store
from chat3d.events import types as T
from chat3d.pipeline import queries
from chat3d.settings import get_settings
from tests.conftest import PASSWORD

_APP = create_api()


def _table() -> list[tuple[str, str, object]]:
    rows = []
    for route in iter_route_contexts(_APP.routes):
        for method in route.methods or ():
            rows.append((method, route.path, route.route))
    return rows


ALL_ROUTES = sorted({(m, p) for m, p, _ in _table()})
PROTECTED = sorted((m, p) for m, p in ALL_ROUTES if (m, p) not in PUBLIC_ROUTES)

EXPECTED_PUBLIC = {
    ("GET", "/health"), ("HEAD", "/health"), ("GET", "/ready"), ("HEAD", "/ready"),
    ("GET", "/api/openapi.json"), ("HEAD", "/api/openapi.json"), ("GET", "/api/docs"), ("HEAD", "/api/docs"),
    ("GET", "/api/public/config"), ("POST", "/api/public/form-not-live"),
    ("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/logout"),
    ("POST", "/api/waitlist/join"),
    ("GET", "/api/waitlist/confirm-email"), ("POST", "/api/waitlist/confirm-email"),
    ("GET", "/api/waitlist/status"), ("GET", "/api/waitlist/unsubscribe"), ("POST", "/api/waitlist/unsubscribe"),
    ("POST", "/api/auth/password-reset/request"), ("POST", "/api/auth/password-reset/confirm"),
    ("POST", "/api/profile/reactivate/request"), ("GET", "/api/profile/actions/preview"),
    ("GET", "/api/profile/actions/confirm"), ("POST", "/api/profile/actions/confirm"),
    # Share links (the token is the credential; one version's metrics and files only).
    ("GET", "/api/share/{token}"), ("GET", "/api/share/{token}/files/{file_id}"), ("HEAD", "/api/share/{token}/files/{file_id}"),
    ("GET", "/api/share/{token}/parts/{number}/{fmt}"), ("HEAD", "/api/share/{token}/parts/{number}/{fmt}"),
    *((m, UNKNOWN_API_PATH) for m in UNKNOWN_API_METHODS),
}


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def _login(api: TestClient, email: str) -> str:
    resp = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return resp.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the public list ------------------------------------------------------------------------------------------


def test_the_public_list_is_exactly_this() -> None:
    """Adding a public route means adding it here too: a visible, reviewed decision. (Reviewed entries whose
    route is not in the table yet, e.g. a feature still being built, may be absent from the list.)"""
    assert set(PUBLIC_ROUTES) - EXPECTED_PUBLIC == set(), "a new public route: review it and add it to EXPECTED_PUBLIC"
    assert EXPECTED_PUBLIC & set(ALL_ROUTES) <= set(PUBLIC_ROUTES), "a reviewed public route now requires sign-in"


def test_every_public_entry_is_a_real_route() -> None:
    """A stale entry would silently make a future route of that name public."""
    assert set(PUBLIC_ROUTES) - set(ALL_ROUTES) == set()


def test_the_matrix_covers_the_account_routes() -> None:
    assert {("GET", "/api/auth/me"), ("DELETE", "/api/auth/sessions/{session_id}"), ("GET", "/api/admin/outbox")} <= set(PROTECTED)
    assert all(path.startswith("/api/") for _, path in PROTECTED), "only /api routes may require a user"
    assert len(PROTECTED) >= 50


def _needs(dependant: Dependant, fn) -> bool:
    return any(d.call is fn or _needs(d, fn) for d in dependant.dependencies)


def test_admin_gate_is_exactly_the_admin_prefix() -> None:
    """tests/api/test_admin_api.py checks 403 for a non-admin on every /api/admin/* route; this proves that
    prefix is exactly the set of routes behind `require_admin`, so that matrix covers every admin route."""
    gated = {(m, p) for m, p, r in _table() if isinstance(r, APIRoute) and _needs(r.dependant, require_admin)}
    prefixed = {(m, p) for m, p in ALL_ROUTES if p.startswith("/api/admin/")}
    assert gated == prefixed and len(gated) >= 15


# --- 401: no, malformed, foreign-key, expired and revoked tokens -----------------------------------------------


def _refusals(api: TestClient, headers: dict[str, str], expect: int = 401) -> list[str]:
    wrong = []
    for method, path in PROTECTED:
        resp = api.request(method, _url(path), headers=headers, json={})
        if resp.status_code != expect or (method != "HEAD" and "error" not in resp.json()):
            wrong.append(f"{method} {path}: {resp.status_code}")
    return wrong


def _expired_token(db: Session, user: User) -> str:
    """A token for a real, unrevoked session row, signed with the app's key, whose `exp` has passed."""
    start_session(db, user, ip="127.0.0.1", user_agent="pytest")
    db.commit()
    row = db.exec(select(UserSession).where(UserSession.user_id == user.id)).first()
    settings = get_settings()
    now = utcnow()
    claims = {"sub": str(user.id), "role": user.role, "jti": row.jti, "iss": settings.jwt_issuer,
              "aud": settings.jwt_audience, "iat": now - timedelta(days=8), "exp": now - timedelta(minutes=1)}
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def test_every_protected_route_refuses_missing_bad_expired_and_revoked_tokens(api: TestClient, db: Session, make_user) -> None:
    """One client over the whole table (a database per route would make this the slowest test)."""
    user = make_user("holder@example.com")
    settings = get_settings()
    forged = jwt.encode({"sub": str(user.id), "role": "admin", "jti": "x" * 32, "iss": settings.jwt_issuer,
                         "aud": settings.jwt_audience, "exp": utcnow() + timedelta(hours=1)},
                        "another-secret-of-at-least-thirty-two-bytes", algorithm=ALGORITHM)
    expired = _expired_token(db, user)
    revoked = _login(api, "holder@example.com")
    assert api.get("/api/auth/me", headers=_bearer(revoked)).status_code == 200  # valid until logout
    assert api.post("/api/auth/logout", headers=_bearer(revoked)).status_code == 204
    api.cookies.clear()

    cases = {
        "none": {}, "malformed": _bearer("not-a-token"), "forged": _bearer(forged),
        "expired": _bearer(expired), "revoked": _bearer(revoked), "revoked-cookie": {"Cookie": f"{COOKIE_NAME}={revoked}"},
    }
    wrong = {name: _refusals(api, headers) for name, headers in cases.items()}
    assert wrong == {name: [] for name in cases}


def test_cookie_auth_without_the_csrf_header_is_refused_on_every_state_changing_route(api: TestClient, make_user) -> None:
    make_user("cookie@example.com")
    token = _login(api, "cookie@example.com")
    cookie = {"Cookie": f"{COOKIE_NAME}={token}"}
    wrong = []
    unsafe = [(m, p) for m, p in PROTECTED if m not in SAFE_METHODS]
    assert len(unsafe) >= 25
    for method, path in unsafe:
        resp = api.request(method, _url(path), headers=cookie, json={})
        if resp.status_code != 403 or CSRF_HEADER not in resp.json().get("error", ""):
            wrong.append(f"{method} {path}: {resp.status_code}")
    assert wrong == []
    # The session itself is fine: a safe request with the cookie works.
    assert api.get("/api/auth/me", headers=cookie).status_code == 200


# --- 404: another user's resources --------------------------------------------------------------------------

SECRET_NAME = "Alice's secret bracket"
SECRET_PROMPT = "alice-only prompt: a 77 mm hinge"


def _alice_resources(db: Session, alice: User) -> dict[str, str]:
    """One of each resource a user owns, created through the domain as user A."""
    ctx = chats.create_context(db, alice.id, name=SECRET_NAME)
    sub = queries.submit_query(db, alice.id, ctx.id, SECRET_PROMPT)
    note = store.record_event(db, alice.id, T.NOTIFICATION_CREATED, {"title": SECRET_NAME}, publish=False)
    stored = files.store_bytes(db, alice.id, b"\x89PNG secret", fmt="png", filename="alice-secret.png", kind=FileKind.upload)
    [inv] = invitations.create_invitations(db, alice, ["friend-of-alice@example.com"])
    db.commit()
    session_row = db.exec(select(UserSession).where(UserSession.user_id == alice.id)).first()
    return {
        "context_id": str(ctx.id), "item_id": str(sub.assistant_item.id), "query_id": str(sub.query.id),
        "notification_id": str(note.id), "file_id": str(stored.id), "invitation_id": str(inv.id),
        "session_id": str(session_row.id),
    }


# Body ids: routes that take another resource's id in the JSON body instead of the path.
BODY_ID_ROUTES = {
    ("POST", "/api/query/submit"): lambda ids: {"contextId": ids["context_id"], "prompt": "steal"},
    ("POST", "/api/query/regenerate"): lambda ids: {"assistantItemId": ids["item_id"]},
}
# Path ids this test answers with a random id (still 404, never 5xx) instead of one of Alice's: a share
# needs a rendered model version; cross-user share access is for the share feature's own tests.
UNSEEDED = {"share_id"}
# Path parts that name no resource (a part's number and file format in /api/files/{file_id}/parts/...).
PLAIN_PATH_VALUES = {"number": "1", "fmt": "stl"}
# Valid bodies/queries, so that ownership (not input validation) decides the answer.
REQUEST_BODIES = {
    ("PATCH", "/api/chat/contexts/{context_id}"): lambda ids: {"name": "renamed by bob"},
    ("PATCH", "/api/chat/contexts/{context_id}/items/{item_id}"): lambda ids: {"rating": 1},
    ("POST", "/api/chat/items/{item_id}/render"): lambda ids: {"code": "from build123d import *\nresult = Box(1, 1, 1)\n"},
    ("POST", "/api/chat/items/{item_id}/parameters"): lambda ids: {"values": {"length": 10.0}},
    ("POST", "/api/chat/contexts/{context_id}/fork"): lambda ids: {"itemId": ids["item_id"]},
    ("POST", "/api/chat/items/{item_id}/share"): lambda ids: {},
}
QUERIES = {
    ("GET", "/api/chat/contexts/{context_id}/versions/compare"): lambda ids: f"?a={ids['item_id']}&b={ids['item_id']}",
}


def test_every_route_with_an_id_answers_404_for_another_users_resource(api: TestClient, db: Session, make_user) -> None:
    alice = make_user("alice@example.com")
    make_user("bob@example.com")
    _login(api, "alice@example.com")  # gives Alice a session row for the sessions route
    bob = _bearer(_login(api, "bob@example.com"))
    ids = _alice_resources(db, alice) | PLAIN_PATH_VALUES

    with_ids = [(m, p) for m, p in PROTECTED if "{" in p and not p.startswith("/api/admin/") and p != UNKNOWN_API_PATH]
    named = set(re.findall(r"\{(\w+)\}", " ".join(p for _, p in with_ids)))
    assert named - set(ids) <= UNSEEDED, f"a route names a resource this test does not create: {named - set(ids) - UNSEEDED}"
    assert len(with_ids) >= 13
    ids |= {name: str(uuid.uuid4()) for name in UNSEEDED}

    cases = [(m, p, p.format(**ids) + QUERIES.get((m, p), lambda _: "")(ids), REQUEST_BODIES.get((m, p), lambda _: {})(ids))
             for m, p in with_ids]
    cases += [(m, p, p, body(ids)) for (m, p), body in BODY_ID_ROUTES.items()]
    assert set(BODY_ID_ROUTES) <= set(PROTECTED)

    wrong = []
    for method, path, url, body in cases:
        resp = api.request(method, url, headers=bob, json=body)
        text = resp.text
        leaked = [s for s in (SECRET_NAME, SECRET_PROMPT, "alice@example.com", "alice-secret.png", "friend-of-alice") if s in text]
        if resp.status_code != 404 or leaked or (method != "HEAD" and "error" not in resp.json()):
            wrong.append(f"{method} {path}: {resp.status_code} {leaked}")
    assert wrong == []

    # Nothing of Alice's changed.
    db.expire_all()
    ctx = chats.get_context(db, alice.id, ids["context_id"])
    assert ctx.name == SECRET_NAME
    assert chats.get_item(db, alice.id, ids["item_id"]).rating == 0  # unrated
    assert db.get(Query, uuid.UUID(ids["query_id"])).state == "queued"
    assert db.get(Notification, int(ids["notification_id"])).read_at is None
    assert db.get(StoredFile, uuid.UUID(ids["file_id"])) is not None
    assert db.get(Invitation, uuid.UUID(ids["invitation_id"])).status != "revoked"
    assert db.get(UserSession, uuid.UUID(ids["session_id"])).revoked_at is None
    assert db.exec(select(Query).where(Query.owner_id != alice.id)).all() == []

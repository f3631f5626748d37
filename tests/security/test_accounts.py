"""Account security (issue 21), attacked through the API as a client would: keys, session binding, invitation
quota, registration, email change, the last-admin guard, login throttling, user text.

Each test failed on the code before its fix (see README "Security").
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.api import create_api
from chat3d.db.models import DeploymentKey, Role, User, UserSession, utcnow
from chat3d.domain import keys
from chat3d.domain.sessions import ALGORITHM, tokens_still_valid
from chat3d.settings import DEFAULT_JWT_SECRET, REPO_ROOT, get_settings, reset_settings_cache
from tests.domain.conftest import PASSWORD


def _login(api: TestClient, email: str, password: str = PASSWORD, **kw) -> str:
    resp = api.post("/api/auth/login", json={"email": email, "password": password}, **kw)
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return resp.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _resign(token: str, secret: str, **changes) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, secret, algorithm=ALGORITHM)


# --- keys: one rule ---------------------------------------------------------------------------------------------


def test_without_jwt_secret_a_deployment_key_is_generated_stored_and_shared(accounts_env, db, make_user, monkeypatch) -> None:
    """Outside `test`, no JWT_SECRET means a generated key kept in the database, the same in every process; a
    token signed with the well-known example value is refused (before: that value was the default key)."""
    monkeypatch.setenv("CHAT3D_ENV", "development")
    monkeypatch.setenv("BCRYPT_ROUNDS", "12")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    reset_settings_cache()
    keys.forget_cached_keys()
    make_user("keys@example.com")
    api = TestClient(create_api())
    token = _login(api, "keys@example.com")
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    forged = _resign(token, DEFAULT_JWT_SECRET)
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    db.expire_all()
    stored = db.get(DeploymentKey, keys.JWT)
    assert stored is not None and len(stored.value) >= 48 and stored.value != DEFAULT_JWT_SECRET
    # Another process of the deployment (same DATABASE_URL, no JWT_SECRET) reads the same key.
    other = subprocess.run(
        [sys.executable, "-c", "from chat3d.domain import keys; print(keys.key(keys.JWT))"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
        env={**__import__("os").environ, "CHAT3D_ENV": "development", "BCRYPT_ROUNDS": "12"},
    )
    assert other.stdout.strip() == stored.value
    # The waitlist link key is a separate key, generated the same way.
    assert keys.key(keys.LINKS) not in (stored.value, DEFAULT_JWT_SECRET)
    keys.forget_cached_keys()


def test_the_well_known_key_is_refused_outside_test(monkeypatch) -> None:
    from pydantic import ValidationError

    from chat3d.settings import Settings

    for env in ("development", "production"):
        monkeypatch.setenv("CHAT3D_ENV", env)
        monkeypatch.setenv("JWT_SECRET", DEFAULT_JWT_SECRET)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)


# --- 3: tokens bound to their session row -----------------------------------------------------------------------


def test_a_token_re_signed_for_the_admins_id_is_refused(api, make_user) -> None:
    """An attacker who can sign (here: the test key) keeps their own valid jti and puts the admin's id in `sub`."""
    admin = make_user("admin@example.com", role=Role.admin.value)
    make_user("mallory@example.com")
    own = _login(api, "mallory@example.com")
    forged = _resign(own, get_settings().jwt_secret, sub=str(admin.id), role="admin")
    assert api.get("/api/admin/users", headers=_bearer(forged)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(own)).json()["email"] == "mallory@example.com"


def test_a_session_past_its_rows_expiry_is_refused(api, db, make_user) -> None:
    """The row's `expires_at` counts even when the JWT's own `exp` is later (e.g. a session shortened server-side)."""
    make_user("short@example.com")
    token = _login(api, "short@example.com")
    row = db.exec(select(UserSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 401
    uid = db.exec(select(User.id)).one()
    assert tokens_still_valid(db, [(token, uid)]) == [False]


def test_with_redis_a_jti_without_a_row_is_refused(accounts_env, make_user, redis_url, monkeypatch, db) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    api = TestClient(create_api())
    user = make_user("nojti@example.com")
    own = _login(api, "nojti@example.com")
    forged = _resign(own, get_settings().jwt_secret, jti=uuid.uuid4().hex)
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    assert tokens_still_valid(db, [(forged, user.id), (own, user.id)]) == [False, True]

"""Signing and encryption keys, one rule for all: the environment variable when set, else a key generated once
for the deployment and kept in the `deployment_keys` table, which every process reads.

Only CHAT3D_ENV=test falls back to fixed, well-known values (so unit tests need no database). A restore needs
the same keys: the environment variables, or the table (it is part of any database backup).
"""

from __future__ import annotations

import functools
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from chat3d.db.models import DeploymentKey
from chat3d.settings import get_settings

JWT = "jwt_secret"
LINKS = "link_signing_key"
CREDENTIALS = "credential_key"
NAMES = (JWT, LINKS, CREDENTIALS)


def key(name: str) -> str:
    """The key `name` (one of NAMES) for this deployment."""
    if name not in NAMES:
        raise ValueError(f"unknown key {name!r}")
    settings = get_settings()
    configured = getattr(settings, name)
    if configured:
        return configured
    if settings.chat3d_env == "test":
        return f"test-only-{name}-not-a-secret-0123456789"
    return _stored(settings.effective_database_url, name)


@functools.lru_cache(maxsize=32)
def _stored(database_url: str, name: str) -> str:
    """Read the key, or create it: the first process to insert wins, every other one reads the winner's value."""
    from chat3d.db.engine import engine_for

    engine = engine_for(database_url)
    with Session(engine) as session:
        row = session.get(DeploymentKey, name)
        if row is not None:
            return row.value
        session.add(DeploymentKey(name=name, value=secrets.token_urlsafe(48)))
        try:
            session.commit()
        except IntegrityError:  # another process created it a moment ago
            session.rollback()
    with Session(engine) as session:
        created = session.get(DeploymentKey, name)
        if created is None:
            raise RuntimeError(f"the deployment key {name!r} was neither found nor created")
        return created.value


def forget_cached_keys() -> None:
    """Tests that swap databases call this."""
    _stored.cache_clear()

"""Fixtures for account tests: cheap bcrypt, fresh rate-limit counters, a session and a user factory.

tests/api and tests/mail import these; they are not autouse because other suites (health) build
production settings, which refuse a bcrypt cost below 12.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from chat3d.db.models import User
from chat3d.domain.passwords import hash_password
from chat3d.domain.ratelimit import reset_rate_limits
from chat3d.settings import reset_settings_cache

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts_env(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """app_env with bcrypt cost 4 and no rate-limit hits carried over from other tests."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("JWT_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    reset_settings_cache()
    reset_rate_limits()
    yield app_env
    reset_rate_limits()


@pytest.fixture
def db(accounts_env: Path, session: Session) -> Session:
    return session


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(email: str = "user@example.com", *, password: str = PASSWORD, **fields) -> User:
        user = User(email=email, password_hash=hash_password(password), **fields)
        db.add(user)
        db.commit()
        return user

    return make

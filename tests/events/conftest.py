"""Fixtures for the event tests: users straight in the table (no auth layer needed for the domain)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from chat3d.db.models import NO_PASSWORD, Role, User, UserStatus


def make_user(session: Session, *, role: str = Role.user.value, status: str = UserStatus.active.value,
              email: str | None = None, password_hash: str | None = None) -> User:
    user = User(
        email=email or f"u-{uuid.uuid4().hex[:10]}@example.test",
        role=role,
        status=status,
        password_hash=password_hash or NO_PASSWORD,
    )
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def user_factory(session: Session):
    def _make(**kw) -> User:
        return make_user(session, **kw)

    return _make

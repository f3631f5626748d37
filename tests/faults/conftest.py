"""Fault tests start real processes (render service, app, Redis, PostgreSQL) and kill or stop them."""

from __future__ import annotations

from tests.domain.conftest import accounts_env, db, make_user  # noqa: F401  (shared fixtures)

"""State tests run Reflex handlers on a real state tree against a clean database, with accounts from the domain
fixtures."""

from __future__ import annotations

from tests.domain.conftest import accounts_env, db, make_user  # noqa: F401  (shared fixtures)

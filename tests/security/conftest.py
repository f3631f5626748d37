"""Security test fixtures: the API client and account fixtures of tests/api and tests/domain."""

from __future__ import annotations

from tests.api.conftest import api  # noqa: F401  (shared fixtures)
from tests.domain.conftest import accounts_env, db, make_user  # noqa: F401

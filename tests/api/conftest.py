"""API test fixtures: the account fixtures of tests/domain plus a client on a fresh app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chat3d.api import create_api
from tests.domain.conftest import accounts_env, db, make_user  # noqa: F401  (shared fixtures)


@pytest.fixture
def api(accounts_env) -> TestClient:  # noqa: F811
    return TestClient(create_api())

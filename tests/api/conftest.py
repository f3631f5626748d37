"""API test fixtures beyond the suite-wide ones (accounts, `api`): a client whose queued jobs really run."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chat3d.api import create_api
from chat3d.pipeline.jobs import set_jobs
from chat3d.settings import reset_settings_cache


@pytest.fixture
def live_api(accounts_env, render_service, monkeypatch):
    """A client whose event loop stays up between requests, so queued jobs run in-process."""
    monkeypatch.setenv("RENDER_SERVICE_URL", render_service.url)
    monkeypatch.setenv("RENDER_SERVICE_TOKEN", render_service.token)
    reset_settings_cache()
    set_jobs(None)
    with TestClient(create_api()) as client:
        yield client
    set_jobs(None)

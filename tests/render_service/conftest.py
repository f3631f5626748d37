"""Fixtures: real `python -m render_service` processes on free ports (session-scoped)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from render_helpers import _start, _stop


@pytest.fixture(scope="session")
def tmp_session():
    with tempfile.TemporaryDirectory(prefix="render-tests-") as d:
        os.chmod(d, 0o711)
        yield Path(d)


@pytest.fixture(scope="session")
def service(tmp_session):
    svc = _start("main", tmp_session)
    yield svc
    _stop(svc)


@pytest.fixture(scope="session")
def service_nocheck(tmp_session):
    svc = _start("nocheck", tmp_session, RENDER_PRECHECK="off")
    yield svc
    _stop(svc)


@pytest.fixture(scope="session")
def service_small(tmp_session):
    """One worker, no burst slot, one queue slot, one job per user: for 503/429 tests."""
    svc = _start("small", tmp_session, RENDER_POOL_SIZE="1", RENDER_BURST_SLOTS="0", RENDER_QUEUE_SIZE="1",
                 RENDER_PER_USER_JOBS="1")
    yield svc
    _stop(svc)


@pytest.fixture(scope="session")
def service_burst(tmp_session):
    """One pool slot and one burst slot: a job that has run 0.3 s lets the next one start beside it."""
    svc = _start("burst", tmp_session, RENDER_POOL_SIZE="1", RENDER_BURST_SLOTS="1", RENDER_LONG_JOB_S="0.3")
    yield svc
    _stop(svc)


UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")


@pytest.fixture(scope="session")
def service_unprivileged(tmp_session):
    """The service as an ordinary user (uid 1000 in a user namespace, no capabilities), as in a
    container: each worker then makes its own user namespace and forks once more to be pid 1 (the
    root service forks workers straight into their pid namespace). Pre-check off: the OS wall alone."""
    if os.geteuid() != 0 or subprocess.run([*UNPRIVILEGED, "true"], capture_output=True).returncode != 0:
        pytest.skip("needs root and unprivileged user namespaces to play an ordinary user")
    svc = _start("unprivileged", tmp_session, prefix=UNPRIVILEGED, RENDER_PRECHECK="off")
    yield svc
    _stop(svc)

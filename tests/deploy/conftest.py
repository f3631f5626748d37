"""Session fixtures for tests that run the shipped images under a real Docker engine (tests/support/containers.py).

They skip, with the reason, only when Docker cannot be used at all (no docker binary, or no daemon and not root);
on a machine where it can, a failure to start the daemon or to build an image fails the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.containers import REPO_ROOT, DockerHost, SessionImages, unavailable_reason

# Another checkout to build from (tests/deploy/test_render_container.py uses it to show the old settings fail).
TREE = Path(os.environ.get("CHAT3D_TEST_RENDER_TREE", REPO_ROOT)).resolve()


@pytest.fixture(scope="session")
def session_images(request: pytest.FixtureRequest) -> SessionImages:
    """Started by tests/conftest.py when the session was collected; started here when it was not (a test run
    through another route)."""
    images = getattr(request.config, "chat3d_session_images", None)
    if images is None:
        reason = unavailable_reason()
        if reason:
            pytest.skip(f"Docker unavailable: {reason}")
        images = request.config.chat3d_session_images = SessionImages()
    return images


@pytest.fixture(scope="session")
def docker_host(session_images: SessionImages) -> DockerHost:
    return session_images.ready_host()


@pytest.fixture(scope="session")
def render_image(docker_host: DockerHost, request: pytest.FixtureRequest) -> str:
    """The render service image built from this work tree (cached layers make a rebuild take seconds)."""
    if TREE != REPO_ROOT and (TREE / "render_service/Dockerfile").exists():  # a checkout from before the shared Dockerfile
        return docker_host.build("chat3d-render:test-other-tree", "render_service/Dockerfile", context=TREE)
    if TREE != REPO_ROOT:
        return docker_host.build("chat3d-render:test-other-tree", "Dockerfile", context=TREE, target="render")
    return request.getfixturevalue("stack_images")["RENDER_IMAGE"]


@pytest.fixture(scope="session")
def stack_images(session_images: SessionImages) -> dict[str, str]:
    """Every image docker-compose.yml names (the render service's included), built once per session for the
    render container, compose and Swarm tests: started in the background at the start of the session."""
    return session_images.images()

"""Session fixtures for tests that run the shipped images under a real Docker engine (tests/support/containers.py).

They skip, with the reason, only when Docker cannot be used at all (no docker binary, or no daemon and not root);
on a machine where it can, a failure to start the daemon or to build an image fails the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.containers import REPO_ROOT, DockerHost, build_stack_images, unavailable_reason

# Another checkout to build from (tests/deploy/test_render_container.py uses it to show the old settings fail).
TREE = Path(os.environ.get("CHAT3D_TEST_RENDER_TREE", REPO_ROOT)).resolve()


@pytest.fixture(scope="session")
def docker_host() -> Iterator[DockerHost]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"Docker unavailable: {reason}")
    host = DockerHost()
    host.ensure_daemon()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="session")
def render_image(docker_host: DockerHost) -> str:
    """The render service image built from this work tree (cached layers make a rebuild take seconds)."""
    if TREE != REPO_ROOT and (TREE / "render_service/Dockerfile").exists():  # a checkout from before the shared Dockerfile
        return docker_host.build("chat3d-render:test-other-tree", "render_service/Dockerfile", context=TREE)
    tag = "chat3d-render:test" if TREE == REPO_ROOT else "chat3d-render:test-other-tree"
    return docker_host.build(tag, "Dockerfile", context=TREE, target="render")


@pytest.fixture(scope="session")
def stack_images(docker_host: DockerHost) -> dict[str, str]:
    """Every image docker-compose.yml names, built once per session for the compose and the Swarm test."""
    return build_stack_images(docker_host)

"""docker-compose.yml as Swarm takes it (deploy/swarm/stack.py): what `docker stack deploy` will run.

Quick checks without a swarm; tests/deploy/test_swarm.py deploys it for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from chat3d.settings import REPO_ROOT

STACK_PY = REPO_ROOT / "deploy/swarm/stack.py"


def _stack_text() -> str:
    return subprocess.run(["python3", str(STACK_PY), str(REPO_ROOT / "docker-compose.yml")], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def _swarm_config() -> dict:
    """The stack file after `docker stack config` (Docker's own loader: schema, interpolation, defaults)."""
    exe = shutil.which("docker")
    if exe is None:
        pytest.fail("the docker client is not installed (apt-get install -y docker.io); make test installs it as root")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_IMAGE", "_REPLICAS")) and k != "PORT"}
    env |= {"JWT_SECRET": "", "RENDER_SERVICE_TOKEN": "", "RENDER_SANDBOX": "minimal"}
    result = subprocess.run([exe, "stack", "config", "-c", "-"], input=_stack_text(), env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def stack() -> dict:
    return _swarm_config()


def test_swarm_accepts_the_stack_file(stack: dict) -> None:
    assert {"postgres", "redis", "render", "app", "worker", "proxy"} <= set(stack["services"])


def test_compose_only_keys_are_translated_not_dropped(stack: dict) -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    render_compose, render = compose["services"]["render"], stack["services"]["render"]
    assert render["deploy"]["resources"]["limits"]["pids"] == render_compose["pids_limit"]
    mounts = {m["target"]: m for m in render["volumes"] if m["type"] == "tmpfs"}
    assert set(mounts) == {t.split(":")[0] for t in render_compose["tmpfs"]}
    assert mounts["/jobs"]["tmpfs"]["size"] == 1024**3 and mounts["/tmp"]["tmpfs"]["size"] == 512 * 1024**2
    assert render["read_only"] is True and render["cap_drop"] == ["ALL"]
    for svc in ("app", "worker"):
        assert sorted(stack["services"][svc]["depends_on"]) == ["postgres", "redis", "render"]


def test_every_service_is_dnsrr_and_only_the_proxy_publishes(stack: dict) -> None:
    """No VIPs and no ingress mesh (they need IPVS): DNS round-robin everywhere, the proxy on a host-mode port."""
    for name, svc in stack["services"].items():
        assert svc["deploy"]["endpoint_mode"] == "dnsrr", name
        if name != "proxy":
            assert "ports" not in svc, name
    (port,) = stack["services"]["proxy"]["ports"]
    assert port["mode"] == "host" and port["target"] == 8080 and port["published"] == 3000
    assert stack["services"]["app"]["deploy"]["replicas"] >= 2
    assert stack["services"]["render"]["deploy"]["replicas"] >= 2
    assert stack["services"]["worker"]["deploy"]["replicas"] >= 2
    for name in ("app", "worker", "render", "proxy"):
        assert ":" in stack["services"][name]["image"], name


def test_secrets_reach_every_service_that_reads_them(stack: dict) -> None:
    assert {s["name"] for s in stack["secrets"].values()} == {"chat3d_jwt_secret", "chat3d_render_service_token"}
    assert all(s["external"] for s in stack["secrets"].values())
    for name, wanted in (("app", {"jwt_secret", "render_service_token"}), ("worker", {"jwt_secret", "render_service_token"}),
                         ("render", {"render_service_token"})):
        svc = stack["services"][name]
        assert {s["source"] for s in svc["secrets"]} == wanted, name
        env = svc["environment"]
        for secret in wanted:
            assert env[f"{secret.upper()}_FILE"] == f"/run/secrets/{secret}", name
            assert env[secret.upper()] == "", name  # the secret file supplies it
    assert stack["services"]["render"]["environment"]["RENDER_SANDBOX"] == "minimal"

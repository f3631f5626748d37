"""docker-compose.yml stays valid and keeps the render service off every published port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from chat3d.settings import REPO_ROOT


def _config(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (apt-get install -y docker-compose); make test installs it as root")
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "RENDER_SERVICE_TOKEN"}} | env_extra
    return subprocess.run([exe, "config"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


SECRETS = {"JWT_SECRET": "test-secret-value", "RENDER_SERVICE_TOKEN": "test-render-token"}


@pytest.fixture(scope="module")
def compose() -> dict:
    result = _config(SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_config_quiet_exits_zero() -> None:
    exe = shutil.which("docker-compose") or "docker-compose"
    env = dict(os.environ, **SECRETS)
    assert subprocess.run([exe, "config", "-q"], cwd=REPO_ROOT, env=env, timeout=60).returncode == 0


def test_compose_refuses_to_start_without_a_jwt_secret() -> None:
    result = _config({"RENDER_SERVICE_TOKEN": "test-render-token"})
    assert result.returncode != 0 and "JWT_SECRET" in result.stderr


def test_compose_refuses_to_start_without_a_render_service_token() -> None:
    """The render service accepts jobs only with the shared token; the app and workers must send it."""
    result = _config({"JWT_SECRET": "test-secret-value"})
    assert result.returncode != 0 and "RENDER_SERVICE_TOKEN" in result.stderr


def test_render_service_gets_its_sandbox_settings(compose: dict) -> None:
    """Root in the container with only the capabilities its namespace sandbox needs, the shipped seccomp profile
    (Docker's default refuses the namespace calls), no-new-privileges; the token reaches render, app and worker.
    tests/deploy/test_render_container.py runs the image with exactly these settings."""
    render = compose["services"]["render"]
    assert render["cap_drop"] == ["ALL"]
    assert {"SETUID", "SETGID", "KILL"} <= set(render["cap_add"])
    assert not {"ALL", "SYS_PTRACE", "NET_ADMIN", "SYS_MODULE"} & set(render["cap_add"])
    assert "no-new-privileges:true" in render["security_opt"]
    seccomp = [o.split(":", 1)[1] for o in render["security_opt"] if o.startswith("seccomp:")]
    assert seccomp and (REPO_ROOT / seccomp[0]).is_file()
    assert "user" not in render  # root: each job gets its own uid
    assert any(t.startswith("/jobs:") for t in render["tmpfs"])
    assert render["environment"]["RENDER_SANDBOX"] == "namespaces"
    for svc in ("render", "app", "worker"):
        assert compose["services"][svc]["environment"]["RENDER_SERVICE_TOKEN"] == "test-render-token"


def test_every_service_present_with_health_checks(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "render", "app", "worker"} <= set(services)
    for name, svc in services.items():
        assert "healthcheck" in svc, f"{name} has no health check"


def test_render_service_is_internal_only(compose: dict) -> None:
    render = compose["services"]["render"]
    assert "ports" not in render
    assert render["networks"] and all(compose["networks"][n].get("internal") for n in render["networks"])
    assert render.get("read_only") is True


def test_app_waits_for_healthy_dependencies(compose: dict) -> None:
    for svc in ("app", "worker"):
        deps = compose["services"][svc]["depends_on"]
        assert {d: v["condition"] for d, v in deps.items()} == {
            "postgres": "service_healthy", "redis": "service_healthy", "render": "service_healthy",
        }
    env = compose["services"]["app"]["environment"]
    assert env["CHAT3D_ENV"] == "production" and env["REDIS_URL"].startswith("redis://")


def test_app_runs_several_reflex_workers_on_the_redis_state_manager(compose: dict) -> None:
    """Reflex 0.10.1 prod runs granian with GRANIAN_WORKERS workers (reflex/utils/exec.py); several workers only
    share tabs' state through Reflex's Redis state manager, which rxconfig.py enables from REDIS_URL."""
    env = compose["services"]["app"]["environment"]
    assert str(env["REFLEX_USE_GRANIAN"]).lower() == "true"
    assert int(env["GRANIAN_WORKERS"]) > 1
    assert env["REDIS_URL"].startswith("redis://")
    result = _config(SECRETS | {"APP_WORKERS": "6"})  # the .env override
    assert result.returncode == 0, result.stderr
    overridden = yaml.safe_load(result.stdout)
    assert int(overridden["services"]["app"]["environment"]["GRANIAN_WORKERS"]) == 6


def _documented_names() -> set[str]:
    """Names .env.example documents: `NAME=value` lines and commented `# NAME=value` examples."""
    names = set()
    for line in (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            names.add(m.group(1))
    return names


def test_env_example_documents_every_compose_variable_and_every_setting() -> None:
    """An operator copying .env.example sees every knob: each `${…}` docker-compose.yml reads and each field of
    the app's Settings (the render service's RENDER_* settings are documented in docs/render-sandbox.md)."""
    from chat3d.settings import Settings

    compose_vars = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")))
    settings = {name.upper() for name in Settings.model_fields}
    documented = _documented_names()
    assert not compose_vars - documented, f"docker-compose.yml reads undocumented: {sorted(compose_vars - documented)}"
    assert not settings - documented, f"Settings fields missing from .env.example: {sorted(settings - documented)}"

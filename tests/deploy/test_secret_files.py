"""Secrets from files (`JWT_SECRET_FILE`, `RENDER_SERVICE_TOKEN_FILE`, ...): how Docker Swarm hands out secrets
(/run/secrets/<name>), for the app's settings and the render service alike."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from chat3d.settings import Settings
from tests.support.app_process import RenderServiceProcess

BOX = "from build123d import *\nresult = Box(10, 10, 10)"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("JWT_SECRET", "JWT_SECRET_FILE", "RENDER_SERVICE_TOKEN", "RENDER_SERVICE_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAT3D_ENV", "test")
    return monkeypatch


def _settings() -> Settings:
    return Settings(_env_file=None)


def test_a_secret_file_supplies_the_value(clean_env, tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("from-the-swarm-secret\n", encoding="utf-8")
    (tmp_path / "token").write_text("render-token-123", encoding="utf-8")
    clean_env.setenv("JWT_SECRET_FILE", str(tmp_path / "jwt"))
    clean_env.setenv("RENDER_SERVICE_TOKEN_FILE", str(tmp_path / "token"))
    s = _settings()
    assert s.jwt_secret == "from-the-swarm-secret"  # the trailing newline of `echo x > file` is not part of it
    assert s.render_service_token == "render-token-123"


def test_both_the_value_and_an_existing_file_is_refused(clean_env, tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("one", encoding="utf-8")
    clean_env.setenv("JWT_SECRET_FILE", str(tmp_path / "jwt"))
    clean_env.setenv("JWT_SECRET", "another")
    with pytest.raises(ValidationError, match="both JWT_SECRET and JWT_SECRET_FILE"):
        _settings()


def test_a_missing_file_falls_back_to_the_value(clean_env, tmp_path: Path) -> None:
    """Compose does not mount Swarm's external secrets: the same compose file then runs on the plain variable."""
    clean_env.setenv("JWT_SECRET_FILE", str(tmp_path / "absent"))
    clean_env.setenv("JWT_SECRET", "from-env")
    assert _settings().jwt_secret == "from-env"


def test_a_missing_file_and_no_value_is_a_clear_error(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("RENDER_SERVICE_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValidationError, match=r"RENDER_SERVICE_TOKEN_FILE=.*absent does not exist"):
        _settings()


def test_an_empty_file_is_a_clear_error(clean_env, tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("\n", encoding="utf-8")
    clean_env.setenv("JWT_SECRET_FILE", str(tmp_path / "jwt"))
    with pytest.raises(ValidationError, match="JWT_SECRET_FILE=.* is empty"):
        _settings()


def test_the_render_service_takes_its_token_from_a_file(tmp_path: Path) -> None:
    """The running service accepts the token written in RENDER_SERVICE_TOKEN_FILE and refuses a wrong one."""
    secret = tmp_path / "render_service_token"
    secret.write_text("token-from-a-secret-file\n", encoding="utf-8")
    svc = RenderServiceProcess(env_extra={"RENDER_SERVICE_TOKEN": "", "RENDER_SERVICE_TOKEN_FILE": str(secret),
                                          "CHAT3D_ENV": "production"})
    svc.start(tmp_path)
    try:
        body = {"code": BOX, "formats": ["stl"]}
        wrong = httpx.post(f"{svc.url}/render", json=body, headers={"Authorization": "Bearer not-it"}, timeout=120)
        assert wrong.status_code == 401
        right = httpx.post(f"{svc.url}/render", json=body,
                           headers={"Authorization": "Bearer token-from-a-secret-file"}, timeout=120)
        assert right.status_code == 200, right.text
    finally:
        svc.stop()

"""The viewer's `window.chat3dViewer` test hook is compiled in for development and test builds only (issue 25):
a production build's viewer is rendered with the hook off, so a user's page carries no test surface."""

from __future__ import annotations

import pytest

from chat3d.settings import get_settings


@pytest.mark.parametrize(("env", "on"), [("production", False), ("development", True), ("test", True)])
def test_the_hook_is_on_outside_production_builds_only(monkeypatch, env: str, on: bool) -> None:
    from chat3d.components.viewer import model_viewer

    monkeypatch.setenv("CHAT3D_ENV", env)
    get_settings.cache_clear()
    try:
        rendered = str(model_viewer(url="/api/files/x"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert f"testHook:{'true' if on else 'false'}" in rendered.replace(" ", ""), rendered

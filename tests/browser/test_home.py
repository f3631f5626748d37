"""The running app's home page renders in a real browser and its health endpoints answer."""

from __future__ import annotations

import httpx


def test_health_and_ready_on_the_running_app(running_app) -> None:
    assert httpx.get(f"{running_app.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{running_app.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["dependencies"]["database"]["status"] == "ok"
    missing = httpx.get(f"{running_app.url}/api/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]


def test_home_page_renders(running_app, page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(running_app.url + "/")
    heading = page.get_by_role("heading", name="Describe a part. Get a real CAD model.")
    heading.wait_for(timeout=30_000)
    assert page.get_by_role("link", name="Sign in").is_visible()
    assert page.title().startswith("Chat3D")
    assert errors == []

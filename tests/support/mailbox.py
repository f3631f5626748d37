"""Reading the running app's dev mailbox (DATA_DIR/outbox/*.json) in browser tests."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

import httpx


def wait_for_mail(data_dir: Path, to: str, subject_part: str, timeout: float = 60) -> dict:
    """The newest mail to `to` whose subject contains `subject_part`, waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for path in (data_dir / "outbox").glob("*.json"):
            try:
                mail = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError):
                continue
            if mail["to"] == to and subject_part in mail["subject"]:
                found.append(mail)
        if found:
            return max(found, key=lambda m: m["deliveredAt"])
        time.sleep(0.5)
    raise AssertionError(f"no mail to {to} with {subject_part!r} within {timeout}s")


def registration_token(data_dir: Path, to: str, timeout: float = 60) -> str:
    """The token of the newest "confirm your email address" link mailed to `to`."""
    mail = wait_for_mail(data_dir, to, "Confirm your email address", timeout)
    match = re.search(r"/profile/actions/confirm\?token=([A-Za-z0-9_%-]+)", mail["text"])
    assert match, mail["text"]
    return unquote(match.group(1))


def confirm_registration(base_url: str, data_dir: Path, to: str) -> None:
    """Press Confirm on the registration link mailed to `to`, as its owner would (open registration needs it)."""
    resp = httpx.post(base_url + "/api/profile/actions/confirm", json={"token": registration_token(data_dir, to)},
                      timeout=30)
    assert resp.status_code == 200, resp.text


def sign_up(page, app, email: str, name: str, password: str) -> None:
    """Register through the page, confirm the mailed link, sign in: the browser ends on /chat."""
    from playwright.sync_api import expect

    from tests.support.live_page import sign_in, wait_until_live

    page.goto(app.url + "/register")
    wait_until_live(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Check your mail")).to_be_visible(timeout=30_000)
    confirm_registration(app.url, app.data_dir, email)
    sign_in(page, app.url, email, password, landing=re.compile(r"/chat/?$"))

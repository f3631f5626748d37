"""Reading the running app's dev mailbox (DATA_DIR/outbox/*.json) in browser tests."""

from __future__ import annotations

import json
import time
from pathlib import Path


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

"""The dev mailbox: without SMTP every mail is written to OUTBOX_DIR as `<id>.eml` plus a `<id>.json` summary.

Nothing is lost on a fresh install without a mail server, and a /dev/mailbox page can show what was sent.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chat3d.mail.render import RenderedMail
from chat3d.settings import get_settings


def _dir() -> Path:
    return get_settings().outbox_dir


def write_message(message_id: str, to: str, mail: RenderedMail, eml: str) -> None:
    """Write the .eml then the summary, each atomically (a reader never sees half a file)."""
    folder = _dir()
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "id": message_id,
        "to": to,
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "links": mail.links,
        "deliveredAt": datetime.now(UTC).isoformat(),
    }
    for suffix, content in ((".eml", eml), (".json", json.dumps(summary, indent=2))):
        tmp = folder / f".{message_id}{suffix}.tmp"
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, folder / f"{message_id}{suffix}")


def list_messages() -> list[dict[str, Any]]:
    """Every delivered summary, newest first."""
    folder = _dir()
    if not folder.is_dir():
        return []
    summaries = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    return sorted(summaries, key=lambda s: s["deliveredAt"], reverse=True)


def read_message(message_id: str) -> dict[str, Any] | None:
    """One summary by id, or None; ids are UUIDs, so no path can be smuggled in."""
    try:
        name = str(uuid.UUID(message_id))
    except ValueError:
        return None
    path = _dir() / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

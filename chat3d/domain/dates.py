"""How the app writes a moment for people, defined once: always in UTC, and saying so wherever a time shows.

Lists and pages use the short forms (`2026-12-05 19:22 UTC`, `2026-12-05`). Mail and notices, which are read
away from the page, spell the month out (`05 December 2026, 19:22 UTC`). No moment gives "".
"""

from __future__ import annotations

from datetime import UTC, datetime

from chat3d.domain.coerce import aware


def _write(moment: datetime | None, pattern: str) -> str:
    return aware(moment).astimezone(UTC).strftime(pattern) if moment is not None else ""


def stamp(moment: datetime | None) -> str:
    """`2026-12-05 19:22 UTC`: a time in a list or on a page."""
    return _write(moment, "%Y-%m-%d %H:%M UTC")


def day(moment: datetime | None) -> str:
    """`2026-12-05`: a date in a list."""
    return _write(moment, "%Y-%m-%d")


def long_day(moment: datetime | None) -> str:
    """`05 December 2026`: a date in a sentence."""
    return _write(moment, "%d %B %Y")


def long_stamp(moment: datetime | None) -> str:
    """`05 December 2026, 19:22 UTC`: a deadline in a sentence (mail, notices)."""
    return _write(moment, "%d %B %Y, %H:%M UTC")

"""Small conversions every domain module needs, defined once: ids from requests, timestamps from rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import overload

from chat3d.domain.errors import NotFound


def as_uuid(value: uuid.UUID | str, what: str | None = None) -> uuid.UUID:
    """`value` as a UUID. With `what` ("chat", "message", …) a malformed id is a 404 `No such {what}.`, since it
    names nothing that exists; without, it raises ValueError (an id the code made itself)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        if what is None:
            raise
        raise NotFound(f"No such {what}.") from None


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A timestamp with its zone: a naive one (given by a caller, or read from SQLite) is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

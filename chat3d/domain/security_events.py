"""Security events (failed logins, refused tokens, rate-limit hits, CSRF refusals) for admins to review.

Each event is written in its own short transaction on a connection outside the request's pool: the
request that caused it is usually about to fail and roll back, and must neither take the event with
it nor wait for a second pooled connection while holding the first.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select

from chat3d.db.models import SecurityEvent
from chat3d.domain.pagination import paginate


@functools.lru_cache(maxsize=8)
def _event_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=NullPool)


def record_security_event(
    session: Session,
    event_type: str,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store one event on `session`'s database, committed at once whatever becomes of `session`."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    event = SecurityEvent(
        user_id=user_id,
        event_type=event_type,
        email=email[:320] if email else None,
        ip=ip[:64] if ip else None,
        user_agent=user_agent[:500] if user_agent else None,
        details=details or {},
    )
    with Session(_event_engine(url)) as own:
        own.add(event)
        own.commit()


def record_in_transaction(
    session: Session,
    event_type: str,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Store one event in `session`'s own transaction: for outcomes (a token consumed) that must be recorded
    exactly when the change they describe commits."""
    session.add(
        SecurityEvent(
            user_id=user_id,
            event_type=event_type,
            email=email[:320] if email else None,
            ip=ip[:64] if ip else None,
            details=details or {},
        )
    )


def list_security_events(
    session: Session, *, event_type: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[SecurityEvent], int]:
    """Newest first, optionally of one type; returns (page, total)."""
    query = select(SecurityEvent)
    if event_type:
        query = query.where(SecurityEvent.event_type == event_type)
    return paginate(session, query, col(SecurityEvent.created_at).desc(), limit=limit, offset=offset)

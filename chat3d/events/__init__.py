"""Realtime events: durable rows in `notifications` (store), wake-ups between processes (bus), SSE streams.

Publishing from domain code::

    from chat3d.events import record_event, types
    record_event(session, user_id, types.CHAT_QUERY_STATE, {"queryId": str(q.id), "state": q.state})
    # ... the caller commits; the wake-up is published after COMMIT, never for a rollback.
"""

from chat3d.events import types
from chat3d.events.bus import get_bus, publish, publish_after_commit, start_event_bus, stop_event_bus
from chat3d.events.store import (
    events_after,
    latest_event_id,
    list_notifications,
    mark_all_read,
    mark_read,
    record_event,
    record_for_admins,
    record_many,
    unread_count,
)

__all__ = [
    "types",
    "get_bus",
    "publish",
    "publish_after_commit",
    "start_event_bus",
    "stop_event_bus",
    "events_after",
    "latest_event_id",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "record_event",
    "record_for_admins",
    "record_many",
    "unread_count",
]

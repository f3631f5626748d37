"""Ephemeral, high-frequency updates (the assistant's text as it streams): never stored, never replayed.

Durable state goes through events; this only lets an open page show text as it arrives, in every deployment:
the text travels on the event bus (`chat3d.events.bus`), through Redis when it is configured, so a query run
by a worker process streams to the page served by any app process.
"""

from __future__ import annotations

import asyncio

from chat3d.events.bus import get_bus


def publish_text(query_id: str, text_so_far: str) -> None:
    get_bus().publish_text(query_id, text_so_far)


def subscribe(query_id: str) -> asyncio.Queue[str]:
    return get_bus().watch_text(query_id)


def unsubscribe(query_id: str, queue: asyncio.Queue[str]) -> None:
    get_bus().unwatch_text(query_id, queue)

"""Ephemeral, high-frequency updates (the assistant's text as it streams): never stored, never replayed.

Durable state goes through events; this only lets an open page show text as it arrives. Subscribers are
local to the process; with several processes the page falls back to the durable events (the final text
arrives with `chat.item.updated`).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

_subscribers: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)


def publish_text(query_id: str, text_so_far: str) -> None:
    for queue in list(_subscribers.get(query_id, ())):
        if queue.full():
            try:
                queue.get_nowait()  # keep only the newest text
            except asyncio.QueueEmpty:
                pass
        queue.put_nowait(text_so_far)


def subscribe(query_id: str) -> asyncio.Queue[str]:
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
    _subscribers[query_id].add(queue)
    return queue


def unsubscribe(query_id: str, queue: asyncio.Queue[str]) -> None:
    subs = _subscribers.get(query_id)
    if subs is not None:
        subs.discard(queue)
        if not subs:
            _subscribers.pop(query_id, None)

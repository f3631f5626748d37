"""The open chat, the one thing every chat pane reads.

The chat page's panes (thread, contexts, composer, workbench, versions) each keep their own state and import
none of each other: what they share is which chat is open, here. Only `chat3d.state.chat_reactions` opens or
leaves a chat (and the contexts pane renames it); whatever one pane's change means for another pane is done
there too, so the pane modules form no import cycle (tests/state/test_import_graph.py).
"""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.state.auth import AuthState


class ActiveChatState(rx.State):
    """The chat open in this tab ('' on the empty page) and its name, as the thread's header shows it."""

    context_id: str = ""
    name: str = ""


async def signed_in_user_id(state: rx.State) -> uuid.UUID | None:
    """The signed-in user's id, re-read for every event (a client can send any event to any handler)."""
    return (await state.get_state(AuthState))._current_user_id()

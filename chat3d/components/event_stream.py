"""The tab's live event connection: an EventSource (assets/chat3d_events.jsx) forwarding each event to the
Reflex handler of its group. `app_shell` mounts it once for signed-in pages; pages never mount their own.
The connection is kept across page changes (events arriving in between are held for the next page), and
replaced when the signed-in user changes.

Groups: each event type goes to the prop `chat3d.events.types.BRIDGE_PROPS` names (the JSX reads that table from
the generated assets/chat3d_event_types.js). `on_settings` also gets a `settings.public.updated` from the bridge
itself after every reconnect, since that ephemeral broadcast is not replayed. `on_closed` fires when the browser
gives up on the stream.
"""

from __future__ import annotations

from typing import Annotated

import reflex as rx
from reflex.event import no_args_event_spec, passthrough_event_spec


class EventStream(rx.NoSSRComponent):
    library = rx.asset("chat3d_events.jsx").importable_path
    tag = "EventStream"

    url: rx.Var[str]
    stream_key: rx.Var[str]  # whose stream: the connection is kept across page changes for the same key only
    # Reflex reads each event's argument spec from the annotation at runtime: `rx.EventHandler[spec]` is
    # `Annotated[rx.EventHandler, spec]` there, written out here so that it is also a type mypy understands.
    on_chat: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_notification: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_admin: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_account: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_invitation: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_settings: Annotated[rx.EventHandler, passthrough_event_spec(dict)]
    on_closed: Annotated[rx.EventHandler, no_args_event_spec]


event_stream = EventStream.create


def live_events() -> rx.Component:
    """The one bridge of a signed-in page, wired to every state that follows the stream."""
    from chat3d.state.admin import AdminState
    from chat3d.state.auth import AuthState
    from chat3d.state.chat_reactions import ChatReactionsState
    from chat3d.state.invitations import InvitationState
    from chat3d.state.notifications import NotificationState

    return event_stream(
        url="/api/events/stream",
        stream_key=AuthState.user_id,
        on_chat=ChatReactionsState.on_event,
        on_notification=NotificationState.on_event,
        on_admin=AdminState.on_live_event,
        on_account=AuthState.on_account_event,
        on_invitation=InvitationState.on_event,
        on_settings=InvitationState.on_event,
        on_closed=AuthState.stream_closed,
    )

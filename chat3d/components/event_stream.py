"""The page's live event connection: an EventSource (assets/chat3d_events.jsx) forwarding to a state handler."""

from __future__ import annotations

import reflex as rx
from reflex.event import passthrough_event_spec


class EventStream(rx.NoSSRComponent):
    library = rx.asset("chat3d_events.jsx").importable_path
    tag = "EventStream"

    url: rx.Var[str]
    on_event: rx.EventHandler[passthrough_event_spec(dict)]


event_stream = EventStream.create

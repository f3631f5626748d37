"""A Server-Sent Events parser per the WHATWG HTML spec (9.2.6, "Interpreting an event stream")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None  # the last event ID buffer when the event was dispatched
    retry: int | None = None


@dataclass
class SseParser:
    """Feed decoded lines (without their terminators); `feed` returns an event when a blank line dispatches one."""

    last_event_id: str = ""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)
    _event: str = ""
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].lstrip(" "))
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(event=event or "message", data="\n".join(data), id=self.last_event_id, retry=self.retry)


async def iter_sse(lines: AsyncIterator[str], parser: SseParser | None = None) -> AsyncIterator[SseEvent]:
    """Events from an async iterator of lines (e.g. `httpx.Response.aiter_lines()`)."""
    parser = parser or SseParser()
    async for line in lines:
        event = parser.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event

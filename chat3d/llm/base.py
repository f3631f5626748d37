"""Provider-neutral chat types and the one interface every LLM adapter implements.

Nothing here imports an SDK, so the pipeline and the UI can depend on these types
without caring which provider answers.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant", "tool"]
ErrorKind = Literal["auth", "rate_limit", "timeout", "unavailable", "bad_request", "server"]
TextCallback = Callable[[str], Awaitable[None] | None]


@dataclass(frozen=True)
class ImageInput:
    media_type: str  # e.g. "image/png"
    data: bytes


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict  # JSON schema of the arguments object


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass
class Message:
    role: Role
    content: str
    images: list[ImageInput] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # set on role="tool": which call this answers


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    model: str
    finish_reason: str


class ProviderError(Exception):
    """A provider failure worded for the person who has to fix it.

    `kind` lets callers decide what to do (retry later, ask for a key, give up)
    without knowing which SDK raised.
    """

    def __init__(self, kind: ErrorKind, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s


class LLMProvider(ABC):
    """One chat-completion call, optionally streamed, optionally with tools."""

    @abstractmethod
    async def complete(
        self,
        *,
        model: str,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        on_text: TextCallback | None = None,
        timeout_s: float | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        """Answer `messages`; when `on_text` is given, stream text deltas to it as they arrive."""


async def emit(on_text: TextCallback | None, delta: str) -> None:
    """Call a text callback that may be sync or async."""
    if on_text is None or not delta:
        return
    result = on_text(delta)
    if inspect.isawaitable(result):
        await result


def status_error(
    provider: str, status: int, detail: str, *, key_setting: str | None = None, retry_after_s: float | None = None
) -> ProviderError:
    """Turn an HTTP error status from any provider into an actionable ProviderError."""
    detail = detail.strip()[:300]
    if status in (401, 403):
        hint = f" Check {key_setting}." if key_setting else ""
        return ProviderError("auth", f"The {provider} API key was refused ({status}).{hint}")
    if status == 429:
        wait = f"Wait {retry_after_s:g} s and try again" if retry_after_s else "Try again in a minute"
        return ProviderError(
            "rate_limit",
            f"{provider} is rate-limiting requests (429). {wait}, or check your plan's limits.",
            retry_after_s=retry_after_s,
        )
    if status in (408, 504):
        return ProviderError("timeout", f"{provider} timed out ({status}). Try again, or raise LLM_TIMEOUT_S.")
    if status == 404:
        return ProviderError("bad_request", f"{provider} does not know this model or endpoint (404): {detail}")
    if status < 500:
        return ProviderError("bad_request", f"{provider} rejected the request ({status}): {detail}")
    if status in (502, 503, 529):
        return ProviderError("unavailable", f"{provider} is overloaded or down ({status}). Try again shortly.")
    return ProviderError("server", f"{provider} had a server error ({status}). Try again shortly.")


def timeout_error(provider: str, timeout_s: float | None) -> ProviderError:
    within = f" within {timeout_s:g} s" if timeout_s else ""
    return ProviderError("timeout", f"{provider} did not answer{within}. Try again, or raise LLM_TIMEOUT_S.")


def unreachable_error(provider: str, url_setting: str) -> ProviderError:
    return ProviderError("unavailable", f"Could not reach {provider}. Check {url_setting} and the network.")


def retry_after_seconds(headers) -> float | None:
    """The server's Retry-After hint (seconds form), if it sent one."""
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None

"""Ollama `/api/chat` adapter (local models; NDJSON streaming; tools)."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import httpx
import ollama

from chat3d.llm.base import (
    Completion,
    LLMProvider,
    Message,
    ProviderError,
    TextCallback,
    ToolCall,
    ToolSpec,
    Usage,
    emit,
    status_error,
    timeout_error,
    unreachable_error,
)

LABEL = "Ollama"


class _ChatRequest(TypedDict):
    """The arguments of one `AsyncClient.chat` call, streamed or not."""

    model: str
    messages: list[dict]
    tools: list[dict[str, Any]]
    options: dict[str, Any]


def auth_headers(token: str) -> dict[str, str]:
    """A bearer token for an Ollama behind an authenticating proxy (`OLLAMA_TOKEN`); none when unset."""
    return {"Authorization": f"Bearer {token}"} if token else {}


class OllamaProvider(LLMProvider):
    def __init__(self, base_url: str, *, token: str = "", max_retries: int = 2, timeout_s: float = 120.0):
        # The ollama SDK has no retry policy of its own; httpx retries failed connection attempts.
        self._client = ollama.AsyncClient(
            host=base_url,
            timeout=timeout_s,
            transport=httpx.AsyncHTTPTransport(retries=max_retries),
            headers=auth_headers(token),
        )
        self._timeout_s = timeout_s

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
        request: _ChatRequest = {
            "model": model,
            "messages": to_ollama_messages(system, messages),
            "tools": [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools or []
            ],
            "options": {"num_predict": max_tokens},
        }
        timeout_s = timeout_s or self._timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                if on_text is None:
                    responses = [await self._client.chat(**request)]
                else:
                    responses = []
                    async for part in await self._client.chat(**request, stream=True):
                        responses.append(part)
                        await emit(on_text, part.message.content or "")
        except TimeoutError:
            raise timeout_error(LABEL, timeout_s) from None
        except httpx.TimeoutException:
            raise timeout_error(LABEL, timeout_s) from None
        except (ConnectionError, httpx.TransportError):
            raise unreachable_error(LABEL, "OLLAMA_BASE_URL") from None
        except ollama.ResponseError as e:
            raise status_error(LABEL, e.status_code if e.status_code > 0 else 500, e.error) from None
        return _combine(responses, model)


def to_ollama_messages(system: str, messages: list[Message]) -> list[dict]:
    """Ollama tool results name the tool instead of a call id, so ids are resolved from earlier calls."""
    tool_names = {call.id: call.name for m in messages for call in m.tool_calls}
    out: list[dict] = [{"role": "system", "content": system}] if system else []
    for m in messages:
        entry: dict = {"role": m.role, "content": m.content}
        if m.images:
            entry["images"] = [image.data for image in m.images]
        if m.tool_calls:
            entry["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls]
        if m.role == "tool" and m.tool_call_id in tool_names:
            entry["tool_name"] = tool_names[m.tool_call_id]
        out.append(entry)
    return out


def _combine(responses: list, requested_model: str) -> Completion:
    """Fold streamed NDJSON parts (or the single non-streamed reply) into one Completion."""
    if not responses:
        raise ProviderError("server", "Ollama sent an empty response. Check that the model is pulled and try again.")
    text = "".join(part.message.content or "" for part in responses)
    calls = [call for part in responses for call in part.message.tool_calls or []]
    tool_calls = [ToolCall(f"call_{i}", c.function.name, dict(c.function.arguments)) for i, c in enumerate(calls)]
    last = responses[-1]
    usage = Usage(last.prompt_eval_count or 0, last.eval_count or 0)
    finish = "tool_calls" if tool_calls else (last.done_reason or "stop")
    return Completion(text, tool_calls, usage, last.model or requested_model, finish)

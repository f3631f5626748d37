"""Anthropic Messages API adapter (tool_use / tool_result blocks, streamed events)."""

from __future__ import annotations

import base64

import anthropic

from chat3d.llm.base import (
    Completion,
    LLMProvider,
    Message,
    TextCallback,
    ToolCall,
    ToolSpec,
    Usage,
    emit,
    retry_after_seconds,
    status_error,
    timeout_error,
    unreachable_error,
)

LABEL = "Anthropic"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


class AnthropicProvider(LLMProvider):
    def __init__(self, api_key: str, base_url: str | None = None, *, max_retries: int = 2, timeout_s: float = 120.0):
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url or None, max_retries=max_retries, timeout=timeout_s
        )

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
        request: dict = {"model": model, "max_tokens": max_tokens, "messages": to_anthropic_messages(messages)}
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
            ]
        if timeout_s is not None:
            request["timeout"] = timeout_s
        try:
            if on_text is None:
                return _from_message(await self._client.messages.create(**request))
            async with self._client.messages.stream(**request) as stream:
                async for event in stream:
                    if event.type == "text":
                        await emit(on_text, event.text)
                return _from_message(await stream.get_final_message())
        except anthropic.APITimeoutError:
            raise timeout_error(LABEL, timeout_s) from None
        except anthropic.APIConnectionError:
            raise unreachable_error(LABEL, "ANTHROPIC_BASE_URL") from None
        except anthropic.APIStatusError as e:
            raise status_error(
                LABEL,
                e.status_code,
                e.message,
                key_setting="ANTHROPIC_API_KEY",
                retry_after_s=retry_after_seconds(e.response.headers),
            ) from None


def to_anthropic_messages(messages: list[Message]) -> list[dict]:
    """Map history to content blocks; tool results travel as user turns, and same-role turns merge
    because the API requires user/assistant alternation."""
    out: list[dict] = []
    for m in messages:
        blocks: list[dict] = []
        if m.role == "tool":
            role = "user"
            blocks.append({"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content})
        else:
            role = m.role
            for image in m.images:
                data = base64.b64encode(image.data).decode()
                blocks.append(
                    {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": data}}
                )
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            for call in m.tool_calls:
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _from_message(message) -> Completion:
    text = "".join(block.text for block in message.content if block.type == "text")
    tool_calls = [
        ToolCall(block.id, block.name, dict(block.input)) for block in message.content if block.type == "tool_use"
    ]
    usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
    finish = _FINISH.get(message.stop_reason or "", message.stop_reason or "stop")
    return Completion(text, tool_calls, usage, message.model, finish)

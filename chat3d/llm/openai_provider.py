"""OpenAI Chat Completions adapter; also serves xAI, whose API speaks the same protocol."""

from __future__ import annotations

import base64
import json
from typing import Literal

import openai

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
    retry_after_seconds,
    status_error,
    timeout_error,
    unreachable_error,
)

# vendor -> (name shown to people, key setting, base-url setting)
_VENDORS = {"openai": ("OpenAI", "OPENAI_API_KEY", "OPENAI_BASE_URL"), "xai": ("xAI", "XAI_API_KEY", "XAI_BASE_URL")}
_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length"}


class OpenAIProvider(LLMProvider):
    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        vendor: Literal["openai", "xai"] = "openai",
        max_retries: int = 2,
        timeout_s: float = 120.0,
    ):
        self.label, self._key_setting, self._url_setting = _VENDORS[vendor]
        self._client = openai.AsyncOpenAI(
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
        request: dict = {
            "model": model,
            "messages": to_openai_messages(system, messages),
            "max_completion_tokens": max_tokens,
        }
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        if timeout_s is not None:
            request["timeout"] = timeout_s
        try:
            if on_text is None:
                return _from_response(await self._client.chat.completions.create(**request))
            return await self._stream(request, on_text)
        except openai.APITimeoutError:
            raise timeout_error(self.label, timeout_s) from None
        except openai.APIConnectionError:
            raise unreachable_error(self.label, self._url_setting) from None
        except openai.APIStatusError as e:
            raise status_error(
                self.label,
                e.status_code,
                e.message,
                key_setting=self._key_setting,
                retry_after_s=retry_after_seconds(e.response.headers),
            ) from None

    async def _stream(self, request: dict, on_text: TextCallback) -> Completion:
        stream = await self._client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        calls: dict[int, dict] = {}  # tool-call deltas arrive in pieces, keyed by index
        usage = Usage(0, 0)
        finish, model = "stop", request["model"]
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    await emit(on_text, delta.content)
                for part in delta.tool_calls or []:
                    call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = part.id or call["id"]
                    if part.function:
                        call["name"] += part.function.name or ""
                        call["arguments"] += part.function.arguments or ""
                if choice.finish_reason:
                    finish = _FINISH.get(choice.finish_reason, choice.finish_reason)
        tool_calls = [ToolCall(c["id"], c["name"], _parse_arguments(c["arguments"])) for _, c in sorted(calls.items())]
        return Completion("".join(text), tool_calls, usage, model, finish)


def to_openai_messages(system: str, messages: list[Message]) -> list[dict]:
    out: list[dict] = [{"role": "system", "content": system}] if system else []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
        elif m.role == "assistant":
            entry: dict = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                entry["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                    for c in m.tool_calls
                ]
            out.append(entry)
        elif m.images:
            parts: list[dict] = [{"type": "text", "text": m.content}]
            for image in m.images:
                data = base64.b64encode(image.data).decode()
                parts.append({"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{data}"}})
            out.append({"role": "user", "content": parts})
        else:
            out.append({"role": "user", "content": m.content})
    return out


def _from_response(response) -> Completion:
    choice = response.choices[0]
    tool_calls = [
        ToolCall(c.id, c.function.name, _parse_arguments(c.function.arguments))
        for c in choice.message.tool_calls or []
        if c.type == "function"
    ]
    usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens) if response.usage else Usage(0, 0)
    finish = _FINISH.get(choice.finish_reason, choice.finish_reason or "stop")
    return Completion(choice.message.content or "", tool_calls, usage, response.model, finish)


def _parse_arguments(raw: str) -> dict:
    """Models occasionally emit malformed JSON arguments; surface that as a bad response, not a crash."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as e:
        raise ProviderError("server", f"The model returned tool arguments that are not valid JSON: {e}") from None
    return value if isinstance(value, dict) else {"value": value}

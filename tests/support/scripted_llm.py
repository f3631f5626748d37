"""A scripted language model for pipeline tests and benchmarks: replies come from a list, requests are kept.

It is installed through the real registry functions (model spec + provider lookup), so the pipeline
runs exactly as with a real provider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from chat3d.llm import registry
from chat3d.llm.base import Completion, LLMProvider, Message, ToolCall, ToolSpec, Usage, emit
from chat3d.llm.registry import ModelSpec

CONVERSATION_ID = "scripted-conversation"
CODEGEN_ID = "scripted-codegen"


def tool_reply(brief: str, bbox: list[float] | None = None, text: str = "Modelling it now.") -> Completion:
    call = ToolCall("call_1", "create_3d_model", {"brief": brief, "expected_bbox_mm": bbox, "units": "mm"})
    return Completion(text, [call], Usage(100, 20), CONVERSATION_ID, "tool_calls")


def text_reply(text: str) -> Completion:
    return Completion(text, [], Usage(50, 10), CONVERSATION_ID, "stop")


def code_reply(code: str) -> Completion:
    return Completion(f"Here it is.\n```python\n{code}\n```", [], Usage(200, 80), CODEGEN_ID, "stop")


@dataclass
class Request:
    model: str
    system: str
    messages: list[Message]
    tools: list[ToolSpec] | None


@dataclass
class ScriptedProvider(LLMProvider):
    """Answers each call with the next scripted completion for that model."""

    conversation: list[Completion] = field(default_factory=list)
    codegen: list[Completion] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    before_reply: Callable[[Request], object] | None = None

    async def complete(self, *, model, system, messages, tools=None, on_text=None, timeout_s=None, max_tokens=4096):
        req = Request(model, system, list(messages), tools)
        self.requests.append(req)
        if self.before_reply:
            result = self.before_reply(req)
            if hasattr(result, "__await__"):
                await result
        queue = self.conversation if model == CONVERSATION_ID else self.codegen
        if not queue:
            raise AssertionError(f"no scripted reply left for {model}")
        reply = queue.pop(0)
        await emit(on_text, reply.text)
        return reply

    def codegen_requests(self) -> list[Request]:
        return [r for r in self.requests if r.model == CODEGEN_ID]


def install(monkeypatch: pytest.MonkeyPatch, provider: ScriptedProvider) -> None:
    """Make the scripted models usable and the defaults, through the registry's own lookups."""
    specs = [
        ModelSpec(CONVERSATION_ID, "offline", CONVERSATION_ID, ("conversation",), price_in_per_1k=0.001, price_out_per_1k=0.002),
        ModelSpec(CODEGEN_ID, "offline", CODEGEN_ID, ("codegen",), price_in_per_1k=0.001, price_out_per_1k=0.002),
    ]
    original_configured = registry.configured_models
    original_provider = registry.get_provider
    monkeypatch.setattr(registry, "configured_models", lambda settings: [*original_configured(settings), *specs])
    monkeypatch.setattr(registry, "get_provider",
                        lambda spec, settings: provider if spec.id.startswith("scripted-") else original_provider(spec, settings))
    monkeypatch.setenv("DEFAULT_CONVERSATION_MODEL", CONVERSATION_ID)
    monkeypatch.setenv("DEFAULT_CODEGEN_MODEL", CODEGEN_ID)

"""Each adapter through its real SDK against a local server speaking the provider's wire protocol."""

from __future__ import annotations

import base64

import pytest
from llm_fakes import Reply, free_port, ndjson, sse

from chat3d.llm.anthropic_provider import AnthropicProvider
from chat3d.llm.base import ImageInput, Message, ProviderError, ToolCall, ToolSpec
from chat3d.llm.ollama_provider import OllamaProvider
from chat3d.llm.openai_provider import OpenAIProvider

PNG = b"\x89PNG\r\n\x1a\nfake-image-bytes"
PNG_B64 = base64.b64encode(PNG).decode()
TOOL = ToolSpec(
    "create_3d_model",
    "Build a part from a brief.",
    {"type": "object", "properties": {"brief": {"type": "string"}}, "required": ["brief"]},
)
HISTORY = [
    Message("user", "Here is a sketch", images=[ImageInput("image/png", PNG)]),
    Message("assistant", "Building it.", tool_calls=[ToolCall("call_1", "create_3d_model", {"brief": "plate"})]),
    Message("tool", "rendered ok", tool_call_id="call_1"),
    Message("user", "thanks"),
]


def make_provider(vendor: str, url: str, **kwargs):
    if vendor in ("openai", "xai"):
        return OpenAIProvider("sk-test", f"{url}/v1", vendor=vendor, **kwargs)
    if vendor == "anthropic":
        return AnthropicProvider("sk-ant-test", url, **kwargs)
    return OllamaProvider(url, **kwargs)


async def ask(provider, **kwargs):
    return await provider.complete(model="m", system="SYS", messages=[Message("user", "hi")], **kwargs)


# --- OpenAI ---------------------------------------------------------------------------------


def openai_completion(message: dict, finish: str = "stop") -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def openai_chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": choices, "usage": usage}


async def test_openai_sends_system_history_tool_results_and_images(fake_server):
    fake_server.queue(Reply(body=openai_completion({"content": "You're welcome."})))
    provider = make_provider("openai", fake_server.url)

    completion = await provider.complete(model="gpt-test", system="SYS", messages=HISTORY, tools=[TOOL], max_tokens=99)

    assert (completion.text, completion.finish_reason, completion.model) == ("You're welcome.", "stop", "gpt-test")
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (11, 7)
    sent = fake_server.received[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["max_completion_tokens"] == 99
    assert sent.body["tools"] == [{"type": "function", "function": {"name": TOOL.name, "description": TOOL.description, "parameters": TOOL.parameters}}]
    assert sent.body["messages"] == [
        {"role": "system", "content": "SYS"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Here is a sketch"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Building it.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "create_3d_model", "arguments": '{"brief": "plate"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rendered ok"},
        {"role": "user", "content": "thanks"},
    ]


async def test_openai_returns_tool_calls(fake_server):
    call = {"id": "call_9", "type": "function", "function": {"name": "create_3d_model", "arguments": '{"brief": "a gear"}'}}
    fake_server.queue(Reply(body=openai_completion({"content": None, "tool_calls": [call]}, "tool_calls")))

    completion = await ask(make_provider("openai", fake_server.url), tools=[TOOL])

    assert completion.tool_calls == [ToolCall("call_9", "create_3d_model", {"brief": "a gear"})]
    assert completion.finish_reason == "tool_calls"


async def test_openai_streams_text_and_assembles_tool_call_deltas(fake_server):
    fake_server.queue(
        Reply(
            chunks=sse(
                openai_chunk({"role": "assistant", "content": "Let me "}),
                openai_chunk({"content": "build that."}),
                openai_chunk({"tool_calls": [{"index": 0, "id": "call_7", "type": "function", "function": {"name": "create_3d_model", "arguments": ""}}]}),
                openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"brief": '}}]}),
                openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"a knob"}'}}]}),
                openai_chunk({}, finish="tool_calls"),
                openai_chunk(usage={"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}),
                done=True,
            )
        )
    )
    deltas: list[str] = []

    completion = await ask(make_provider("openai", fake_server.url), tools=[TOOL], on_text=deltas.append)

    assert deltas == ["Let me ", "build that."]
    assert completion.text == "Let me build that."
    assert completion.tool_calls == [ToolCall("call_7", "create_3d_model", {"brief": "a knob"})]
    assert (completion.finish_reason, completion.usage.input_tokens, completion.usage.output_tokens) == ("tool_calls", 20, 9)
    assert fake_server.received[0].body["stream"] is True


async def test_openai_async_text_callback_is_awaited(fake_server):
    fake_server.queue(Reply(chunks=sse(openai_chunk({"content": "ok"}, finish="stop"), done=True)))
    seen: list[str] = []

    async def on_text(delta: str) -> None:
        seen.append(delta)

    await ask(make_provider("openai", fake_server.url), on_text=on_text)
    assert seen == ["ok"]


# --- Anthropic ------------------------------------------------------------------------------


def anthropic_message(content: list[dict], stop: str = "end_turn") -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 13, "output_tokens": 5},
    }


async def test_anthropic_sends_blocks_for_history_tool_results_and_images(fake_server):
    fake_server.queue(Reply(body=anthropic_message([{"type": "text", "text": "Glad to help."}])))

    completion = await make_provider("anthropic", fake_server.url).complete(
        model="claude-test", system="SYS", messages=HISTORY, tools=[TOOL], max_tokens=77
    )

    assert (completion.text, completion.finish_reason, completion.usage.input_tokens) == ("Glad to help.", "stop", 13)
    sent = fake_server.received[0]
    assert sent.path == "/v1/messages"
    assert "sk-ant-test" in sent.headers.get("x-api-key", sent.headers.get("authorization", ""))
    assert (sent.body["system"], sent.body["max_tokens"]) == ("SYS", 77)
    assert sent.body["tools"] == [{"name": TOOL.name, "description": TOOL.description, "input_schema": TOOL.parameters}]
    assert sent.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "text", "text": "Here is a sketch"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Building it."},
                {"type": "tool_use", "id": "call_1", "name": "create_3d_model", "input": {"brief": "plate"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "rendered ok"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


async def test_anthropic_returns_tool_use(fake_server):
    fake_server.queue(
        Reply(
            body=anthropic_message(
                [
                    {"type": "text", "text": "On it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "create_3d_model", "input": {"brief": "a vase"}},
                ],
                "tool_use",
            )
        )
    )

    completion = await ask(make_provider("anthropic", fake_server.url), tools=[TOOL])

    assert completion.text == "On it."
    assert completion.tool_calls == [ToolCall("toolu_1", "create_3d_model", {"brief": "a vase"})]
    assert completion.finish_reason == "tool_calls"


async def test_anthropic_streams_events_and_assembles_input_json(fake_server):
    start = anthropic_message([], stop=None)
    start["usage"] = {"input_tokens": 30, "output_tokens": 1}
    fake_server.queue(
        Reply(
            chunks=sse(
                {"type": "message_start", "message": start},
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sure, "}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a spring."}},
                {"type": "content_block_stop", "index": 0},
                {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "create_3d_model", "input": {}}},
                {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"brief": "a'}},
                {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ' spring"}'}},
                {"type": "content_block_stop", "index": 1},
                {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 21}},
                {"type": "message_stop"},
                named=True,
            )
        )
    )
    deltas: list[str] = []

    completion = await ask(make_provider("anthropic", fake_server.url), tools=[TOOL], on_text=deltas.append)

    assert deltas == ["Sure, ", "a spring."]
    assert completion.text == "Sure, a spring."
    assert completion.tool_calls == [ToolCall("toolu_2", "create_3d_model", {"brief": "a spring"})]
    assert (completion.finish_reason, completion.usage.input_tokens, completion.usage.output_tokens) == ("tool_calls", 30, 21)
    assert fake_server.received[0].body["stream"] is True


# --- Ollama ---------------------------------------------------------------------------------


def ollama_part(content: str = "", tool_calls: list | None = None, done: bool = False, **extra) -> dict:
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"model": "llama-test", "created_at": "2025-01-01T00:00:00Z", "message": message, "done": done, **extra}


async def test_ollama_sends_history_tool_results_and_images(fake_server):
    fake_server.queue(Reply(body=ollama_part("Any time.", done=True, done_reason="stop", prompt_eval_count=8, eval_count=3)))

    completion = await make_provider("ollama", fake_server.url).complete(
        model="llama-test", system="SYS", messages=HISTORY, tools=[TOOL], max_tokens=55
    )

    assert (completion.text, completion.finish_reason, completion.usage.input_tokens, completion.usage.output_tokens) == (
        "Any time.",
        "stop",
        8,
        3,
    )
    sent = fake_server.received[0]
    assert sent.path == "/api/chat"
    assert (sent.body["stream"], sent.body["options"]["num_predict"]) == (False, 55)
    assert sent.body["tools"][0]["function"]["name"] == "create_3d_model"
    assert sent.body["tools"][0]["function"]["parameters"]["required"] == ["brief"]
    assert sent.body["messages"] == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "Here is a sketch", "images": [PNG_B64]},
        {"role": "assistant", "content": "Building it.", "tool_calls": [{"function": {"name": "create_3d_model", "arguments": {"brief": "plate"}}}]},
        {"role": "tool", "content": "rendered ok", "tool_name": "create_3d_model"},
        {"role": "user", "content": "thanks"},
    ]


async def test_ollama_token_goes_as_a_bearer_header_only_when_set(fake_server):
    """`OLLAMA_TOKEN` reaches a protected Ollama (a proxy checking `Authorization`) through the real SDK."""
    for token, expected in (("s3cret-token", "Bearer s3cret-token"), ("", None)):
        fake_server.queue(Reply(body=ollama_part("ok", done=True, done_reason="stop")))
        await ask(make_provider("ollama", fake_server.url, token=token))
        assert fake_server.received[-1].headers.get("authorization") == expected


async def test_ollama_streams_ndjson_with_tool_calls(fake_server):
    call = {"function": {"name": "create_3d_model", "arguments": {"brief": "a tray"}}}
    fake_server.queue(
        Reply(
            media_type="application/x-ndjson",
            chunks=ndjson(
                ollama_part("Making "),
                ollama_part("a tray."),
                ollama_part("", tool_calls=[call]),
                ollama_part("", done=True, done_reason="stop", prompt_eval_count=12, eval_count=6),
            ),
        )
    )
    deltas: list[str] = []

    completion = await ask(make_provider("ollama", fake_server.url), tools=[TOOL], on_text=deltas.append)

    assert deltas == ["Making ", "a tray."]
    assert completion.text == "Making a tray."
    assert completion.tool_calls == [ToolCall("call_0", "create_3d_model", {"brief": "a tray"})]
    assert (completion.finish_reason, completion.usage.input_tokens) == ("tool_calls", 12)
    assert fake_server.received[0].body["stream"] is True


# --- Errors, retries, timeouts (all providers) -----------------------------------------------

VENDORS = ["openai", "xai", "anthropic", "ollama"]


def error_body(vendor: str, message: str) -> dict:
    if vendor == "anthropic":
        return {"type": "error", "error": {"type": "api_error", "message": message}}
    if vendor == "ollama":
        return {"error": message}
    return {"error": {"message": message, "type": "error", "code": None}}


@pytest.mark.parametrize("vendor", ["openai", "xai", "anthropic"])
async def test_refused_key_is_an_auth_error_naming_the_setting(fake_server, vendor):
    fake_server.queue(Reply(401, error_body(vendor, "invalid api key")))

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, fake_server.url))

    setting = {"openai": "OPENAI_API_KEY", "xai": "XAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[vendor]
    assert caught.value.kind == "auth"
    assert "(401)" in caught.value.message and setting in caught.value.message
    assert len(fake_server.received) == 1  # auth failures are not retried


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_rate_limit_is_retried_by_the_sdk_honouring_retry_after(fake_server, vendor):
    ok = openai_completion({"content": "fine"}) if vendor == "openai" else anthropic_message([{"type": "text", "text": "fine"}])
    fake_server.queue(Reply(429, error_body(vendor, "slow down"), headers={"retry-after": "0.05"}), Reply(body=ok))

    completion = await ask(make_provider(vendor, fake_server.url, max_retries=2))

    assert completion.text == "fine"
    assert len(fake_server.received) == 2


@pytest.mark.parametrize("vendor", VENDORS)
async def test_persistent_rate_limit_reports_retry_after(fake_server, vendor):
    fake_server.queue(*[Reply(429, error_body(vendor, "slow down"), headers={"retry-after": "0.05"})] * 3)

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, fake_server.url, max_retries=2))

    assert caught.value.kind == "rate_limit"
    if vendor != "ollama":  # the ollama SDK drops response headers and has no HTTP retries
        assert caught.value.retry_after_s == 0.05
        assert len(fake_server.received) == 3


@pytest.mark.parametrize("vendor", VENDORS)
async def test_server_error_after_retries(fake_server, vendor):
    fake_server.queue(*[Reply(500, error_body(vendor, "boom"), headers={"retry-after-ms": "10"})] * 3)

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, fake_server.url, max_retries=2))

    assert caught.value.kind == "server"
    assert len(fake_server.received) == (1 if vendor == "ollama" else 3)


@pytest.mark.parametrize("vendor", VENDORS)
async def test_bad_request_is_not_retried(fake_server, vendor):
    fake_server.queue(Reply(400, error_body(vendor, "messages: field required")))

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, fake_server.url))

    assert caught.value.kind == "bad_request"
    assert "messages: field required" in caught.value.message
    assert len(fake_server.received) == 1


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("stream", [False, True])
async def test_slow_server_times_out(fake_server, vendor, stream):
    fake_server.queue(Reply(body={}, delay_s=1.5))

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, fake_server.url, max_retries=0), timeout_s=0.3, on_text=(lambda _: None) if stream else None)

    assert caught.value.kind == "timeout"
    assert "0.3 s" in caught.value.message


@pytest.mark.parametrize("vendor", VENDORS)
async def test_unreachable_server_is_unavailable(vendor):
    with pytest.raises(ProviderError) as caught:
        await ask(make_provider(vendor, f"http://127.0.0.1:{free_port()}", max_retries=0), timeout_s=5)

    assert caught.value.kind == "unavailable"
    assert "_BASE_URL" in caught.value.message


async def test_malformed_tool_arguments_are_reported(fake_server):
    call = {"id": "c", "type": "function", "function": {"name": "create_3d_model", "arguments": "{not json"}}
    fake_server.queue(Reply(body=openai_completion({"content": None, "tool_calls": [call]}, "tool_calls")))

    with pytest.raises(ProviderError) as caught:
        await ask(make_provider("openai", fake_server.url))

    assert caught.value.kind == "server" and "not valid JSON" in caught.value.message

"""Model registry: configuration file, availability rules, provider factory, cost."""

from __future__ import annotations

import json

import pytest
from llm_fakes import free_port

from chat3d.llm.anthropic_provider import AnthropicProvider
from chat3d.llm.base import Usage
from chat3d.llm.offline import OfflineProvider
from chat3d.llm.ollama_provider import OllamaProvider
from chat3d.llm.openai_provider import OpenAIProvider
from chat3d.llm.registry import available_models, configured_models, cost_usd, get_model, get_provider
from chat3d.settings import Settings

OFFLINE = ["offline-conversation", "offline-templates"]


def settings(**overrides) -> Settings:
    """Settings with every LLM credential blank unless given, ignoring the real environment's keys."""
    blank = {"openai_api_key": "", "anthropic_api_key": "", "xai_api_key": "", "ollama_base_url": "", "llm_models_file": None}
    return Settings(_env_file=None, **{**blank, **overrides})


def ids(models) -> list[str]:
    return [m.id for m in models]


def test_without_keys_only_offline_models_are_available():
    assert ids(available_models(settings())) == OFFLINE


@pytest.mark.parametrize(
    ("field", "model_ids"),
    [
        ("openai_api_key", ["gpt-4.1", "gpt-4.1-mini"]),
        ("anthropic_api_key", ["claude-sonnet-4-5"]),
        ("xai_api_key", ["grok-4"]),
    ],
)
def test_a_key_makes_its_models_available(field, model_ids):
    assert ids(available_models(settings(**{field: "key"}))) == OFFLINE + model_ids


def test_ollama_is_listed_only_when_its_server_answers(fake_server):
    assert "llama3.1" in ids(available_models(settings(ollama_base_url=fake_server.url)))
    unreachable = settings(ollama_base_url=f"http://127.0.0.1:{free_port()}")
    assert "llama3.1" not in ids(available_models(unreachable))
    assert "llama3.1" in ids(available_models(unreachable, probe_ollama=False))


def test_models_file_overrides_and_extends_builtins_json(tmp_path):
    path = tmp_path / "models.json"
    path.write_text(
        json.dumps(
            [
                {"id": "gpt-4.1", "provider": "openai", "model": "gpt-4.1-2025-04-14", "price_in_per_1k": 0.1, "price_out_per_1k": 0.2},
                {"id": "qwen-coder", "provider": "ollama", "model": "qwen2.5-coder:7b", "stages": ["codegen"], "label": "Qwen coder"},
            ]
        )
    , encoding="utf-8")
    configured = {m.id: m for m in configured_models(settings(llm_models_file=path))}

    assert configured["gpt-4.1"].model == "gpt-4.1-2025-04-14" and configured["gpt-4.1"].price_in_per_1k == 0.1
    assert configured["qwen-coder"].stages == ("codegen",) and configured["qwen-coder"].label == "Qwen coder"
    assert set(OFFLINE) <= set(configured)
    available = ids(available_models(settings(llm_models_file=path, openai_api_key="k")))
    assert "gpt-4.1" in available and "qwen-coder" not in available


def test_models_file_yaml(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  - id: claude-haiku\n    provider: anthropic\n    model: claude-haiku-4-5\n    vision: true\n", encoding="utf-8")
    spec = get_model("claude-haiku", settings(llm_models_file=path))
    assert (spec.provider, spec.model, spec.vision, spec.stages) == ("anthropic", "claude-haiku-4-5", True, ("conversation", "codegen"))


@pytest.mark.parametrize(
    "entries",
    [[{"id": "x", "provider": "mistral"}], [{"provider": "openai"}], [{"id": "x", "provider": "openai", "stage": ["codegen"]}], {"id": "x"}],
)
def test_invalid_models_file_is_reported(tmp_path, entries):
    path = tmp_path / "models.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(ValueError, match="LLM_MODELS_FILE"):
        configured_models(settings(llm_models_file=path))


def test_unknown_model_id():
    with pytest.raises(LookupError, match="Unknown model 'nope'"):
        get_model("nope", settings())


def test_cost_is_priced_per_thousand_tokens():
    spec = get_model("claude-sonnet-4-5", settings())
    assert cost_usd(spec, Usage(2000, 1000)) == pytest.approx(2 * 0.003 + 1 * 0.015)
    assert cost_usd(get_model("offline-templates", settings()), Usage(5000, 5000)) == 0


def test_provider_factory_builds_and_reuses_clients():
    config = settings(openai_api_key="a", anthropic_api_key="b", xai_api_key="c", ollama_base_url="http://127.0.0.1:1")

    openai_client = get_provider(get_model("gpt-4.1", config), config)
    assert isinstance(openai_client, OpenAIProvider) and openai_client.label == "OpenAI"
    assert get_provider(get_model("gpt-4.1-mini", config), config) is openai_client
    xai_client = get_provider(get_model("grok-4", config), config)
    assert isinstance(xai_client, OpenAIProvider) and xai_client.label == "xAI" and xai_client is not openai_client
    assert isinstance(get_provider(get_model("claude-sonnet-4-5", config), config), AnthropicProvider)
    assert isinstance(get_provider(get_model("llama3.1", config), config), OllamaProvider)
    assert isinstance(get_provider(get_model("offline-conversation", config), config), OfflineProvider)
    rotated = settings(openai_api_key="new-key")
    assert get_provider(get_model("gpt-4.1", rotated), rotated) is not openai_client


def test_an_empty_models_file_setting_means_none(monkeypatch):
    """`LLM_MODELS_FILE=` copied from .env.example used to become Path('.') and break every model listing."""
    monkeypatch.setenv("LLM_MODELS_FILE", "")
    config = Settings(_env_file=None, openai_api_key="", anthropic_api_key="", xai_api_key="", ollama_base_url="")
    assert config.llm_models_file is None
    assert ids(available_models(config)) == OFFLINE


def test_a_rotated_key_replaces_the_cached_client():
    """After a rotation only the new key's client is kept: the old key does not linger in the cache."""
    from chat3d.llm import registry

    old = settings(anthropic_api_key="sk-ant-old-0000")
    new = settings(anthropic_api_key="sk-ant-new-1111")
    get_provider(get_model("claude-sonnet-4-5", old), old)
    get_provider(get_model("claude-sonnet-4-5", new), new)
    cached = [k for k in registry._clients if k[0] == "anthropic"]
    assert len(cached) == 1 and "sk-ant-new-1111" in cached[0]

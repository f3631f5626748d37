"""Which models exist, which are usable right now, which client serves each, and what they cost.

Built-in entries cover the offline provider and one or two sensible models per vendor;
LLM_MODELS_FILE (JSON or YAML) replaces entries by id or adds new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Literal

import httpx
import yaml

from chat3d.llm.base import LLMProvider, Usage
from chat3d.settings import Settings

ProviderName = Literal["openai", "anthropic", "xai", "ollama", "offline"]
Stage = Literal["conversation", "codegen"]
PROVIDERS = ("openai", "anthropic", "xai", "ollama", "offline")
STAGES: tuple[Stage, ...] = ("conversation", "codegen")
OLLAMA_PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class ModelSpec:
    id: str
    provider: ProviderName
    model: str  # the provider's own model name
    stages: tuple[Stage, ...] = STAGES
    vision: bool = False
    price_in_per_1k: float = 0.0  # USD per 1,000 input tokens
    price_out_per_1k: float = 0.0
    label: str = ""


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("offline-conversation", "offline", "offline-conversation", ("conversation",), label="Offline templates"),
    ModelSpec("offline-templates", "offline", "offline-templates", ("codegen",), label="Offline templates"),
    ModelSpec("gpt-4.1", "openai", "gpt-4.1", STAGES, True, 0.002, 0.008, "GPT-4.1"),
    ModelSpec("gpt-4.1-mini", "openai", "gpt-4.1-mini", STAGES, True, 0.0004, 0.0016, "GPT-4.1 mini"),
    ModelSpec("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", STAGES, True, 0.003, 0.015, "Claude Sonnet 4.5"),
    ModelSpec("grok-4", "xai", "grok-4", STAGES, True, 0.003, 0.015, "Grok 4"),
    ModelSpec("llama3.1", "ollama", "llama3.1", STAGES, False, 0.0, 0.0, "Llama 3.1 (Ollama)"),
)


def configured_models(settings: Settings) -> list[ModelSpec]:
    """Built-ins, with entries from LLM_MODELS_FILE replacing same-id ones and adding the rest."""
    models = {m.id: m for m in BUILTIN_MODELS}
    for entry in _read_models_file(settings):
        spec = _spec_from_entry(entry, settings)
        models[spec.id] = spec
    return list(models.values())


def available_models(settings: Settings, *, probe_ollama: bool = True) -> list[ModelSpec]:
    """Models usable now: their key is set (or Ollama answers), plus the offline ones."""
    ollama_up = bool(settings.ollama_base_url) and (
        not probe_ollama or _ollama_reachable(settings.ollama_base_url, settings.ollama_token)
    )
    usable = {
        "offline": True,
        "openai": bool(settings.openai_api_key),
        "anthropic": bool(settings.anthropic_api_key),
        "xai": bool(settings.xai_api_key),
        "ollama": ollama_up,
    }
    return [m for m in configured_models(settings) if usable[m.provider]]


def get_model(model_id: str, settings: Settings) -> ModelSpec:
    for spec in configured_models(settings):
        if spec.id == model_id:
            return spec
    raise LookupError(f"Unknown model '{model_id}'. Add it to LLM_MODELS_FILE or pick one of the listed models.")


def cost_usd(spec: ModelSpec, usage: Usage) -> float:
    return usage.input_tokens / 1000 * spec.price_in_per_1k + usage.output_tokens / 1000 * spec.price_out_per_1k


_clients: dict[tuple, LLMProvider] = {}


def get_provider(spec: ModelSpec, settings: Settings) -> LLMProvider:
    """The client for a model's provider; one per provider configuration, reused across calls."""
    from chat3d.llm.anthropic_provider import AnthropicProvider
    from chat3d.llm.offline import OfflineProvider
    from chat3d.llm.ollama_provider import OllamaProvider
    from chat3d.llm.openai_provider import OpenAIProvider

    timeout = settings.llm_timeout_s
    factories = {
        "openai": (
            (settings.openai_api_key, settings.openai_base_url),
            lambda: OpenAIProvider(settings.openai_api_key, settings.openai_base_url, timeout_s=timeout),
        ),
        "xai": (
            (settings.xai_api_key, settings.xai_base_url),
            lambda: OpenAIProvider(settings.xai_api_key, settings.xai_base_url, vendor="xai", timeout_s=timeout),
        ),
        "anthropic": (
            (settings.anthropic_api_key, settings.anthropic_base_url),
            lambda: AnthropicProvider(settings.anthropic_api_key, settings.anthropic_base_url, timeout_s=timeout),
        ),
        "ollama": (
            (settings.ollama_base_url, settings.ollama_token),
            lambda: OllamaProvider(settings.ollama_base_url, token=settings.ollama_token, timeout_s=timeout),
        ),
        "offline": ((), OfflineProvider),
    }
    config, make = factories[spec.provider]
    key = (spec.provider, *config, timeout)
    if key not in _clients:
        # A rotated or removed key's client is dropped, so the old key does not stay in memory.
        for stale in [k for k in _clients if k[0] == spec.provider]:
            del _clients[stale]
        _clients[key] = make()
    return _clients[key]


def _read_models_file(settings: Settings) -> list[dict]:
    path = settings.llm_models_file
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise ValueError(f"LLM_MODELS_FILE {path} could not be read: {e}") from None
    entries = data["models"] if isinstance(data, dict) and "models" in data else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f'LLM_MODELS_FILE {path} must hold a list of model entries (or {{"models": [...]}}).')
    return entries


def _spec_from_entry(entry: dict, settings: Settings) -> ModelSpec:
    where = f"LLM_MODELS_FILE {settings.llm_models_file}"
    known = {f.name for f in fields(ModelSpec)}
    if "id" not in entry or "provider" not in entry:
        raise ValueError(f"{where}: every entry needs 'id' and 'provider' (got {entry}).")
    if entry["provider"] not in PROVIDERS:
        raise ValueError(
            f"{where}: model '{entry['id']}' has provider '{entry['provider']}'; use one of {', '.join(PROVIDERS)}."
        )
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"{where}: model '{entry['id']}' has unknown fields {sorted(unknown)}.")
    stages = tuple(entry.get("stages", STAGES))
    if not stages or not set(stages) <= set(STAGES):
        raise ValueError(f"{where}: model '{entry['id']}' stages must be among {list(STAGES)}.")
    return ModelSpec(
        id=str(entry["id"]),
        provider=entry["provider"],
        model=str(entry.get("model", entry["id"])),
        stages=stages,
        vision=bool(entry.get("vision", False)),
        price_in_per_1k=float(entry.get("price_in_per_1k", 0.0)),
        price_out_per_1k=float(entry.get("price_out_per_1k", 0.0)),
        label=str(entry.get("label", entry["id"])),
    )


def _ollama_reachable(base_url: str, token: str = "") -> bool:
    from chat3d.llm.ollama_provider import auth_headers

    try:
        url = f"{base_url.rstrip('/')}/api/version"
        return httpx.get(url, headers=auth_headers(token), timeout=OLLAMA_PROBE_TIMEOUT_S).is_success
    except httpx.HTTPError:
        return False

"""Language models set up in the admin console: provider credentials, which models users may pick, the defaults.

Rules:
- A credential (an API key, or Ollama's server address and optional token) is encrypted with the deployment's
  credential key (chat3d.domain.keys, issue 21's rule) before it reaches the database. The console shows only a
  fingerprint (the last four characters); the clear value is never returned, logged, audited or exported.
- A non-empty environment value wins: a provider whose key (Ollama: server address) is set in the environment is
  shown as "set by the environment" and cannot be changed here; DEFAULT_*_MODEL likewise fix the defaults.
- A model without a choice row may be picked, so deployments configured only by environment work unchanged.
- Every change writes an admin audit entry (`model.credential.create|rotate|delete`, `model.enable|disable`,
  `model.default`) in the same transaction, with the fingerprint, never the secret.

The pipeline reads the effective configuration on every model call (`load`), so a key removed
here stops a running query at its next call with a clear message, in every process of the deployment.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, select

from chat3d.db.models import LlmCredential, LlmModelChoice, User, utcnow
from chat3d.domain.admin import audit
from chat3d.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from chat3d.settings import Settings, get_settings

if TYPE_CHECKING:
    from chat3d.llm.registry import ModelSpec

PROVIDERS = ("openai", "anthropic", "xai", "ollama")
PROVIDER_LABELS = {"openai": "OpenAI", "anthropic": "Anthropic", "xai": "xAI", "ollama": "Ollama", "offline": "Offline"}
# provider -> (settings field of its key, settings field of its server address)
_FIELDS = {
    "openai": ("openai_api_key", "openai_base_url"),
    "anthropic": ("anthropic_api_key", "anthropic_base_url"),
    "xai": ("xai_api_key", "xai_base_url"),
    "ollama": ("ollama_token", "ollama_base_url"),
}
_ENV_NAMES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "xai": "XAI_API_KEY",
    "ollama": "OLLAMA_BASE_URL",
}
BUILTIN_DEFAULTS = {"conversation": "offline-conversation", "codegen": "offline-templates"}
STAGE_LABELS = {"conversation": "conversation", "codegen": "code generation"}
MAX_SECRET = 1000
TEST_TIMEOUT_S = 10.0


class CredentialUnreadable(DomainError):
    status = 500


# --- encryption -------------------------------------------------------------------------------------------------


def _fernet() -> Fernet:
    """Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the deployment's credential key."""
    from chat3d.domain import keys

    secret = keys.key(keys.CREDENTIALS).encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"chat3d llm credentials v1").derive(secret)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialUnreadable(
            "A stored model credential cannot be decrypted: the credential key (CREDENTIAL_KEY) changed. "
            "Restore the old key or add the credential again in the admin console."
        ) from None


def fingerprint(secret: str) -> str:
    """What the console shows for a secret: its last four characters (nothing of a short one)."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) >= 12 else "…(short)"


# --- reading the configuration -----------------------------------------------------------------------------------


def env_sets(provider: str, settings: Settings | None = None) -> bool:
    """The environment provides this provider's credential (it then wins over the console)."""
    settings = settings or get_settings()
    if provider == "ollama":
        return bool(settings.ollama_base_url)
    return bool(getattr(settings, _FIELDS[provider][0]))


def env_name(provider: str) -> str:
    return _ENV_NAMES[provider]


def _credentials(session: Session) -> dict[str, LlmCredential]:
    return {row.provider: row for row in session.exec(select(LlmCredential)).all()}


def _choices(session: Session) -> dict[str, LlmModelChoice]:
    return {row.model_id: row for row in session.exec(select(LlmModelChoice)).all()}


@dataclass(frozen=True)
class ModelsConfig:
    """The configuration in force: settings with console credentials filled in, picks and defaults."""

    settings: Settings
    disabled: frozenset[str]
    defaults: dict[str, str]  # stage -> model id
    default_source: dict[str, str]  # stage -> "environment" | "console" | "built-in"
    unreadable: frozenset[str] = frozenset()  # providers whose stored secret the credential key cannot decrypt


def load(session: Session | None = None, settings: Settings | None = None) -> ModelsConfig:
    """Read the console's rows once and combine them with the environment.

    A secret the credential key cannot decrypt (the key changed) counts as absent and is listed in `unreadable`:
    the console still opens, so an admin can replace it, and model calls say what happened."""
    settings = settings or get_settings()
    if session is None:
        from chat3d.db.engine import session_scope

        with session_scope() as own:
            return load(own, settings)
    creds, choices = _credentials(session), _choices(session)
    update: dict[str, str] = {}
    unreadable: set[str] = set()
    for provider, row in creds.items():
        if env_sets(provider, settings):
            continue  # the environment wins
        key_field, url_field = _FIELDS[provider]
        try:
            update[key_field] = decrypt(row.secret)
        except CredentialUnreadable:
            unreadable.add(provider)
            continue
        if row.base_url:
            update[url_field] = row.base_url
    effective = settings.model_copy(update=update) if update else settings
    defaults, sources = {}, {}
    for stage in ("conversation", "codegen"):
        env_value = getattr(settings, f"default_{stage}_model")
        chosen = next((m for m, c in choices.items() if getattr(c, f"default_{stage}")), "")
        if env_value:
            defaults[stage], sources[stage] = env_value, "environment"
        elif chosen:
            defaults[stage], sources[stage] = chosen, "console"
        else:
            defaults[stage], sources[stage] = BUILTIN_DEFAULTS[stage], "built-in"
    disabled = frozenset(m for m, c in choices.items() if not c.enabled)
    return ModelsConfig(effective, disabled, defaults, sources, frozenset(unreadable))


def pickable_models(config: ModelsConfig | None = None, *, probe_ollama: bool = False) -> list[ModelSpec]:
    """Models a user may pick now: usable (key present / server up) and not turned off by an admin. The one rule
    behind /api/llm/models, the composer's choices and usable_model."""
    from chat3d.llm import registry

    config = config or load()
    return [
        m for m in registry.available_models(config.settings, probe_ollama=probe_ollama) if m.id not in config.disabled
    ]


def usable_model(model_id: str, stage: str, config: ModelsConfig | None = None) -> ModelSpec:
    """The model `model_id` for `stage` (conversation/codegen) if a user may use it now: usable (key present /
    server configured), not turned off by an admin, and made for that stage; else InvalidInput saying which."""
    usable = {m.id: m for m in pickable_models(config)}
    spec = usable.get(model_id)
    if spec is None:
        raise InvalidInput(
            f"The model '{model_label(model_id)}' is not available now (no API key, its "
            "server does not answer, or an administrator turned it off)."
        )
    if stage not in spec.stages:
        raise InvalidInput(f"The model '{spec.label or model_id}' cannot be used for {stage}.")
    return spec


def default_model(stage: str, session: Session | None = None) -> str:
    return load(session).defaults[stage]


def model_label(model_id: str) -> str:
    """The friendly name of a model (its id when unknown): users see "GPT-4.1 mini", not "gpt-4.1-mini"."""
    path = get_settings().llm_models_file
    try:
        stamp = path.stat().st_mtime if path else 0.0
    except OSError:
        stamp = -1.0
    return _labels(str(path or ""), stamp).get(model_id, model_id)


@functools.lru_cache(maxsize=4)
def _labels(_models_file: str, _stamp: float) -> dict[str, str]:
    """Labels by id, read once per version of LLM_MODELS_FILE (a thread labels every answer)."""
    from chat3d.llm import registry

    try:
        specs = registry.configured_models(get_settings())
    except ValueError:  # an unreadable models file is reported where models are listed; labels fall back
        specs = list(registry.BUILTIN_MODELS)
    return {m.id: m.label or m.id for m in specs}


def check_usable(spec, config: ModelsConfig) -> None:
    """Refuse, with a message for the user, a call to a provider whose credential is gone (removed mid-query)."""
    from chat3d.llm.base import ProviderError

    if spec.provider == "offline":
        return
    settings = config.settings
    present = settings.ollama_base_url if spec.provider == "ollama" else getattr(settings, _FIELDS[spec.provider][0])
    name = PROVIDER_LABELS[spec.provider]
    if spec.provider in config.unreadable:
        raise ProviderError(
            "auth",
            f"The stored {name} credential cannot be read (the deployment's credential key "
            "changed); an administrator must add it again in the admin console.",
        )
    if not present:
        raise ProviderError(
            "auth",
            f"The {name} credential was removed by an administrator, so {spec.label or spec.id} cannot answer. "
            "Pick another model and send the request again.",
        )


# --- changing credentials ----------------------------------------------------------------------------------------


def _check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise InvalidInput(f"Unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}.")
    return provider


def _check_url(url: str, what: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"The {what} must be an http:// or https:// address, e.g. http://localhost:11434.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInput(f"The {what} must be a plain address without credentials, query or fragment.")
    if len(url) > 500:
        raise InvalidInput(f"The {what} can have at most 500 characters.")
    return url.rstrip("/")


def _check_secret(secret: str, required: bool) -> str:
    secret = (secret or "").strip()
    if required and not secret:
        raise InvalidInput("Paste the API key.")
    if len(secret) > MAX_SECRET:
        raise InvalidInput(f"The key can have at most {MAX_SECRET} characters.")
    if any(c.isspace() or not c.isprintable() for c in secret):
        raise InvalidInput("The key cannot contain spaces or control characters; paste it exactly as issued.")
    return secret


def save_credential(
    session: Session, admin: User, provider: str, secret: str, base_url: str = "", *, ip: str | None = None
) -> LlmCredential:
    """Add or replace (rotate) a provider's credential; the environment's, when set, cannot be overridden."""
    provider = _check_provider(provider)
    if env_sets(provider):
        raise Conflict(
            f"{PROVIDER_LABELS[provider]} is set by the environment ({env_name(provider)}); change it there."
        )
    secret = _check_secret(secret, required=provider != "ollama")
    base_url = _check_url(base_url, "server address")
    if provider == "ollama" and not base_url:
        raise InvalidInput("Give the Ollama server's address, e.g. http://localhost:11434.")
    row = session.exec(select(LlmCredential).where(LlmCredential.provider == provider).with_for_update()).first()
    action = "model.credential.rotate" if row is not None else "model.credential.create"
    if row is None:
        row = LlmCredential(provider=provider)
    row.secret = encrypt(secret)
    row.base_url = base_url
    row.fingerprint = fingerprint(secret)
    row.updated_at = utcnow()
    row.updated_by = admin.id
    session.add(row)
    session.flush()
    audit(
        session,
        admin,
        action,
        "llm_credential",
        provider,
        {"provider": provider, "fingerprint": row.fingerprint, "baseUrl": base_url},
        ip=ip,
    )
    return row


def delete_credential(session: Session, admin: User, provider: str, *, ip: str | None = None) -> None:
    provider = _check_provider(provider)
    row = session.exec(select(LlmCredential).where(LlmCredential.provider == provider).with_for_update()).first()
    if row is None:
        if env_sets(provider):
            raise Conflict(
                f"{PROVIDER_LABELS[provider]} is set by the environment ({env_name(provider)}); remove it there."
            )
        raise NotFound(f"No {PROVIDER_LABELS[provider]} credential is stored.")
    details = {"provider": provider, "fingerprint": row.fingerprint}
    session.delete(row)
    session.flush()
    audit(session, admin, "model.credential.delete", "llm_credential", provider, details, ip=ip)


# --- testing a connection ------------------------------------------------------------------------------------------


def check_connection(provider: str, session: Session | None = None) -> str:
    """List the provider's models with its own SDK, on its configured host only; returns a short success line.

    Raises InvalidInput with the provider's reason when the call fails (wrong key, host unreachable)."""
    provider = _check_provider(provider)
    config = load(session)
    settings = config.settings
    key_field, url_field = _FIELDS[provider]
    key, base_url = getattr(settings, key_field), getattr(settings, url_field)
    name = PROVIDER_LABELS[provider]
    if provider in config.unreadable:
        raise InvalidInput(f"The stored {name} credential cannot be read: the credential key changed. Replace the key.")
    if (provider == "ollama" and not base_url) or (provider != "ollama" and not key):
        raise InvalidInput(f"No {name} credential is set; add one first.")
    try:
        count = _list_models(provider, key, base_url)
    except Exception as exc:  # noqa: BLE001 - each SDK has its own error types; the reason is what matters
        raise InvalidInput(f"{name} did not accept the connection: {_reason(exc)}") from None
    return f"{name} answered: {count} model{'s' if count != 1 else ''} visible with this credential."


def _list_models(provider: str, key: str, base_url: str) -> int:
    if provider in ("openai", "xai"):
        import openai

        with openai.OpenAI(
            api_key=key, base_url=base_url or None, max_retries=0, timeout=TEST_TIMEOUT_S
        ) as openai_client:
            return len(list(openai_client.models.list()))
    if provider == "anthropic":
        import anthropic

        with anthropic.Anthropic(
            api_key=key, base_url=base_url or None, max_retries=0, timeout=TEST_TIMEOUT_S
        ) as anthropic_client:
            return len(anthropic_client.models.list(limit=100).data)
    import ollama

    from chat3d.llm.ollama_provider import auth_headers

    client = ollama.Client(host=base_url, timeout=TEST_TIMEOUT_S, headers=auth_headers(key))
    return len(client.list().models)


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"the key was refused (HTTP {status})."
    if status:
        return f"HTTP {status}."
    text = type(exc).__name__
    if "Connect" in text or "Connection" in text or isinstance(exc, ConnectionError):
        return "the server could not be reached."
    if "Timeout" in text:
        return f"no answer within {TEST_TIMEOUT_S:.0f} s."
    return text


# --- model choices -----------------------------------------------------------------------------------------------


def _choice_for_update(session: Session, model_id: str) -> LlmModelChoice:
    from chat3d.llm import registry

    try:
        registry.get_model(model_id, get_settings())
    except LookupError:
        raise NotFound(f"Unknown model {model_id!r}.") from None
    row = session.exec(select(LlmModelChoice).where(LlmModelChoice.model_id == model_id).with_for_update()).first()
    return row or LlmModelChoice(model_id=model_id)


def set_enabled(
    session: Session, admin: User, model_id: str, enabled: bool, *, ip: str | None = None
) -> LlmModelChoice:
    """Let users pick a model, or not; a stage's default cannot be turned off (choose another default first)."""
    row = _choice_for_update(session, model_id)
    if not enabled and (row.default_conversation or row.default_codegen):
        raise Conflict(f"{model_label(model_id)} is a default model; choose another default before turning it off.")
    if row.enabled == enabled:
        return row
    row.enabled, row.updated_at, row.updated_by = enabled, utcnow(), admin.id
    session.add(row)
    session.flush()
    audit(
        session,
        admin,
        "model.enable" if enabled else "model.disable",
        "llm_model",
        model_id,
        {"model": model_id},
        ip=ip,
    )
    return row


def set_default(session: Session, admin: User, stage: str, model_id: str, *, ip: str | None = None) -> LlmModelChoice:
    """Make `model_id` the default for new chats' `stage`; the environment's DEFAULT_*_MODEL, when set, wins."""
    from chat3d.llm import registry

    if stage not in ("conversation", "codegen"):
        raise InvalidInput("The stage is 'conversation' or 'codegen'.")
    if getattr(get_settings(), f"default_{stage}_model"):
        raise Conflict(
            f"The default {STAGE_LABELS[stage]} model is set by the environment "
            f"(DEFAULT_{stage.upper()}_MODEL); change it there."
        )
    row = _choice_for_update(session, model_id)
    spec = registry.get_model(model_id, get_settings())
    if stage not in spec.stages:
        raise InvalidInput(f"{spec.label or spec.id} cannot be used for {STAGE_LABELS[stage]}.")
    if model_id not in {m.id for m in registry.available_models(load(session).settings, probe_ollama=False)}:
        raise InvalidInput(
            f"{spec.label or spec.id} cannot answer yet: add the {PROVIDER_LABELS[spec.provider]} credential first."
        )
    flag = f"default_{stage}"
    for other in session.exec(
        select(LlmModelChoice).where(getattr(LlmModelChoice, flag).is_(True)).with_for_update()
    ).all():
        if other.model_id != model_id:
            setattr(other, flag, False)
            session.add(other)
    setattr(row, flag, True)
    row.enabled, row.updated_at, row.updated_by = True, utcnow(), admin.id
    session.add(row)
    session.flush()
    audit(session, admin, "model.default", "llm_model", model_id, {"model": model_id, "stage": stage}, ip=ip)
    return row


# --- the console's view ---------------------------------------------------------------------------------------------


@dataclass
class ProviderView:
    provider: str
    label: str
    source: str  # "environment" | "console" | "none"
    fingerprint: str
    base_url: str
    updated_at: datetime | None
    env_name: str
    unreadable: bool = False


@dataclass
class ModelView:
    id: str
    label: str
    provider: str
    stages: tuple[str, ...]
    usable: bool  # its provider has a credential (offline: always)
    enabled: bool
    default_for: tuple[str, ...]


def console_view(session: Session) -> tuple[list[ProviderView], list[ModelView], ModelsConfig]:
    """Everything the admin console shows, without any secret."""
    from chat3d.llm import registry

    settings = get_settings()
    config = load(session, settings)
    creds = _credentials(session)
    providers = []
    for p in PROVIDERS:
        row = creds.get(p)
        if env_sets(p, settings):
            url = settings.ollama_base_url if p == "ollama" else getattr(settings, _FIELDS[p][1])
            providers.append(ProviderView(p, PROVIDER_LABELS[p], "environment", "", url, None, env_name(p)))
        elif row is not None:
            providers.append(
                ProviderView(
                    p,
                    PROVIDER_LABELS[p],
                    "console",
                    row.fingerprint,
                    row.base_url,
                    row.updated_at,
                    env_name(p),
                    p in config.unreadable,
                )
            )
        else:
            providers.append(ProviderView(p, PROVIDER_LABELS[p], "none", "", "", None, env_name(p)))
    usable_ids = {m.id for m in registry.available_models(config.settings, probe_ollama=False)}
    models = [
        ModelView(
            m.id,
            m.label or m.id,
            m.provider,
            tuple(m.stages),
            m.id in usable_ids,
            m.id not in config.disabled,
            tuple(s for s in ("conversation", "codegen") if config.defaults[s] == m.id),
        )
        for m in registry.configured_models(settings)
    ]
    return providers, models, config

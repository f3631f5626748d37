"""/api/admin/models: language-model credentials, which models users may pick, and the defaults.

Admin only. Secrets go in and never come out: responses carry a fingerprint (last four characters) instead.
Every change is audited by chat3d.domain.model_settings in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StrictBool

from chat3d.api.deps import AdminUser, DbSession, client_of, require_admin
from chat3d.api.schemas import CamelModel
from chat3d.domain import model_settings

router = APIRouter(prefix="/api/admin/models", tags=["admin"], dependencies=[Depends(require_admin)])
Provider = Literal["openai", "anthropic", "xai", "ollama"]


class ProviderOut(CamelModel):
    provider: str
    label: str
    source: str  # environment | console | none
    fingerprint: str
    base_url: str
    updated_at: datetime | None
    env_name: str
    unreadable: bool  # stored, but the credential key cannot decrypt it (the key changed): replace it


class ModelChoiceOut(CamelModel):
    id: str
    label: str
    provider: str
    stages: list[str]
    usable: bool
    enabled: bool
    default_for: list[str]


class ModelsOut(CamelModel):
    providers: list[ProviderOut]
    models: list[ModelChoiceOut]
    default_conversation_model_id: str
    default_codegen_model_id: str
    defaults_source: dict[str, str]


class CredentialIn(CamelModel):
    api_key: str = Field(default="", max_length=model_settings.MAX_SECRET)  # Ollama: optional bearer token
    base_url: str = Field(default="", max_length=500)


class ModelChoiceIn(CamelModel):
    enabled: StrictBool | None = None
    default_for: Literal["conversation", "codegen"] | None = None


class TestOut(CamelModel):
    ok: bool
    message: str


def _view(session) -> ModelsOut:
    providers, models, config = model_settings.console_view(session)
    return ModelsOut(
        providers=[ProviderOut.model_validate(p) for p in providers],
        models=[
            ModelChoiceOut(
                id=m.id,
                label=m.label,
                provider=m.provider,
                stages=list(m.stages),
                usable=m.usable,
                enabled=m.enabled,
                default_for=list(m.default_for),
            )
            for m in models
        ],
        default_conversation_model_id=config.defaults["conversation"],
        default_codegen_model_id=config.defaults["codegen"],
        defaults_source=config.default_source,
    )


@router.get("")
def models_route(session: DbSession) -> ModelsOut:
    return _view(session)


@router.put("/credentials/{provider}")
def save_credential_route(
    provider: Provider, body: CredentialIn, me: AdminUser, request: Request, session: DbSession
) -> ModelsOut:
    model_settings.save_credential(session, me, provider, body.api_key, body.base_url, ip=client_of(request).ip)
    return _view(session)


@router.delete("/credentials/{provider}")
def delete_credential_route(provider: Provider, me: AdminUser, request: Request, session: DbSession) -> ModelsOut:
    model_settings.delete_credential(session, me, provider, ip=client_of(request).ip)
    return _view(session)


@router.post("/credentials/{provider}/test")
def test_credential_route(provider: Provider, session: DbSession) -> TestOut:
    """One listing call to the provider's configured host; a refusal is a 400 with the provider's reason."""
    return TestOut(ok=True, message=model_settings.check_connection(provider, session))


@router.patch("/{model_id}")
def update_model_route(
    model_id: str, body: ModelChoiceIn, me: AdminUser, request: Request, session: DbSession
) -> ModelsOut:
    ip = client_of(request).ip
    if body.default_for is not None:
        model_settings.set_default(session, me, body.default_for, model_id, ip=ip)
    if body.enabled is not None:
        model_settings.set_enabled(session, me, model_id, body.enabled, ip=ip)
    return _view(session)

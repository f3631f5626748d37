"""/api/llm/models: the models usable now (key present or server reachable) and not turned off by an admin,
offline ones included; keys come from the environment or the admin console (chat3d.domain.model_settings)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from chat3d.api.deps import CurrentUser
from chat3d.api.schemas import CamelModel
from chat3d.domain import model_settings

router = APIRouter(prefix="/api/llm", tags=["llm"])


class ModelOut(CamelModel):
    id: str
    provider: str
    model: str
    label: str
    stages: list[str]
    vision: bool
    offline: bool
    price_in_per_1k: float
    price_out_per_1k: float


class ModelList(CamelModel):
    items: list[ModelOut]
    total: int
    default_conversation_model_id: str
    default_codegen_model_id: str


@router.get("/models")
async def list_models(_user: CurrentUser) -> ModelList:
    config = await asyncio.to_thread(model_settings.load)
    specs = await asyncio.to_thread(
        model_settings.pickable_models, config, probe_ollama=True
    )  # may probe Ollama briefly
    items = [
        ModelOut(
            id=m.id,
            provider=m.provider,
            model=m.model,
            label=m.label or m.id,
            stages=list(m.stages),
            vision=m.vision,
            offline=m.provider == "offline",
            price_in_per_1k=m.price_in_per_1k,
            price_out_per_1k=m.price_out_per_1k,
        )
        for m in specs
    ]
    return ModelList(
        items=items,
        total=len(items),
        default_conversation_model_id=config.defaults["conversation"],
        default_codegen_model_id=config.defaults["codegen"],
    )

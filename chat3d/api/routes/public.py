"""/api/public: what pages need before anyone signs in."""

from __future__ import annotations

from fastapi import APIRouter

from chat3d.api.deps import DbSession
from chat3d.api.schemas import CamelModel
from chat3d.domain.policy import public_config

router = APIRouter(prefix="/api/public", tags=["public"])


class PublicConfig(CamelModel):
    waitlist_enabled: bool
    invitations_enabled: bool
    registration_open: bool
    environment: str
    mail_delivery: str


@router.get("/config")
def config_route(session: DbSession) -> PublicConfig:
    return PublicConfig.model_validate(public_config(session))

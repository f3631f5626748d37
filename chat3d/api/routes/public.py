"""/api/public: what pages need before anyone signs in."""

from __future__ import annotations

from fastapi import APIRouter, Response

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


@router.post("/form-not-live", status_code=204)
def form_not_live_route() -> Response:
    """Where a page's form goes if the browser submits it before the page is live (chat3d/components/forms.py).

    204 keeps the page as it is, fields filled in, so the user can press again once it is live; the body is never
    read. (The frontend's FORM_NOT_LIVE_URL names this route.)"""
    return Response(status_code=204)

"""/api/auth/password-reset: "forgot password" for signed-out users, and the confirm step that admin-triggered
resets use too. The request answers the same whether or not the address has an account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from chat3d.api.deps import DbSession, client_of
from chat3d.api.routes.profile import AcceptedOut, ConfirmOut, _limit_public, optional_auth
from chat3d.api.schemas import CamelModel
from chat3d.domain import account_actions as actions

router = APIRouter(prefix="/api/auth/password-reset", tags=["auth"])

REQUEST_ANSWER = "If an account uses this address, we sent it a link to choose a new password. Check your mailbox."


class ResetRequestIn(CamelModel):
    email: str = Field(max_length=320)


class ResetConfirmIn(CamelModel):
    token: str = Field(max_length=200)
    new_password: str = Field(max_length=1024)


@router.post("/request", status_code=202)
def request_reset(body: ResetRequestIn, request: Request, session: DbSession) -> AcceptedOut:
    _limit_public(session, request, "password-reset", body.email)
    actions.request_password_reset_by_email(session, body.email, ip=client_of(request).ip)
    return AcceptedOut(message=REQUEST_ANSWER)


@router.post("/confirm")
def confirm_reset(body: ResetConfirmIn, request: Request, session: DbSession) -> ConfirmOut:
    user, _ = optional_auth(request, session)
    result = actions.confirm_password_reset(
        session, body.token, body.new_password, signed_in=user, ip=client_of(request).ip
    )
    return ConfirmOut(type=result.type, message=result.message, signed_out=result.signed_out, detail=result.extra)

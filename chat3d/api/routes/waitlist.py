"""/api/waitlist: join, confirm the email (double opt-in), look up the status, withdraw marketing consent.

All public (see public_routes.py). The join answer is the same for every address; the status and
unsubscribe routes need a token from a mail.
"""

from __future__ import annotations

import html
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from chat3d.api.deps import DbSession, client_of
from chat3d.api.schemas import CamelModel
from chat3d.domain import waitlist

router = APIRouter(prefix="/api/waitlist", tags=["waitlist"])


class JoinIn(CamelModel):
    email: str = Field(max_length=320)
    marketing_consent: bool = False


class MessageOut(CamelModel):
    message: str


class TokenIn(CamelModel):
    token: str = Field(max_length=200)


class StatusOut(CamelModel):
    status: str
    email: str
    created_at: datetime
    email_confirmed_at: datetime | None
    decided_at: datetime | None
    status_token: str


def _status(entry) -> StatusOut:
    view = waitlist.status_view(entry)
    return StatusOut(**view.__dict__, status_token=waitlist.status_token(entry))


@router.post("/join", status_code=202)
def join_route(body: JoinIn, request: Request, session: DbSession) -> MessageOut:
    waitlist.join_waitlist(session, body.email, body.marketing_consent, ip=client_of(request).ip)
    return MessageOut(message=waitlist.JOIN_ANSWER)


@router.get("/confirm-email")
def confirm_get_route(token: str, request: Request, session: DbSession) -> StatusOut:
    """For API clients; mail links point at the /waitlist/confirm page, which confirms only on a button press."""
    return _status(waitlist.confirm_email(session, token, ip=client_of(request).ip))


@router.post("/confirm-email")
def confirm_post_route(body: TokenIn, request: Request, session: DbSession) -> StatusOut:
    return _status(waitlist.confirm_email(session, body.token, ip=client_of(request).ip))


@router.get("/status")
def status_route(token: str, session: DbSession) -> StatusOut:
    return _status(waitlist.entry_from_status_token(session, token))


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)} · Chat3D</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;line-height:1.5'>"
        f"<h1 style='font-size:1.4em'>{html.escape(title)}</h1>{body}<p><a href='/'>Chat3D</a></p></body></html>"
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page_route(token: str) -> HTMLResponse:
    """A page with one button: mail scanners prefetch links, so only the POST withdraws consent."""
    return _page(
        "Unsubscribe from news",
        "<p>Stop receiving news and product updates from Chat3D at this address? Account and security mail still arrive.</p>"
        f"<form method='post'><input type='hidden' name='token' value='{html.escape(token, quote=True)}'>"
        "<button type='submit' style='padding:.5em 1em'>Unsubscribe</button></form>",
    )


@router.post("/unsubscribe")
async def unsubscribe_route(request: Request, session: DbSession, token: str | None = None):
    """Withdraw marketing consent: a form post (answers a page) or JSON `{"token"}` (answers JSON)."""
    is_json = request.headers.get("content-type", "").startswith("application/json")
    if token is None:
        if is_json:
            token = str((await request.json() or {}).get("token") or "")
        else:
            token = str((await request.form()).get("token") or "")
    email = waitlist.withdraw_marketing_consent(session, token)
    if is_json:
        return {"unsubscribed": True, "email": waitlist.mask_email(email)}
    return _page("You are unsubscribed", "<p>You will not receive news from Chat3D any more.</p>")

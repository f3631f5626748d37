"""Deliver one rendered mail: over SMTP when SMTP_HOST/SMTP_PORT are set, else into the dev mailbox folder."""

from __future__ import annotations

import emails
from emails.backend.smtp import SMTPBackend

from chat3d.mail import mailbox
from chat3d.mail.render import RenderedMail
from chat3d.settings import get_settings


class DeliveryError(Exception):
    """The mail did not go out this time; the outbox retries it later."""


def deliver(message_id: str, to: str, mail: RenderedMail) -> None:
    settings = get_settings()
    message = emails.html(
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        mail_from=settings.mail_from,
        mail_to=to,
        headers={"X-Chat3D-Message-Id": message_id},
    )
    if not settings.smtp_enabled:
        mailbox.write_message(message_id, to, mail, message.as_string())
        return
    # emails' SMTP client logs in only when given a user: an empty SMTP_USER sends without login.
    with SMTPBackend(
        host=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_s,
        tls=settings.smtp_tls,
        user=settings.smtp_user,
        password=settings.smtp_password,
    ) as backend:
        response = message.send(smtp=backend)
    if not response.success:
        raise DeliveryError(_reason(response))


def _reason(response) -> str:
    """A line an admin can act on: the network or SMTP error, or the last status the server sent."""
    error = response.error
    if error is None:
        return f"SMTP server answered {response.status_code} {response.status_text!r}"
    return f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"

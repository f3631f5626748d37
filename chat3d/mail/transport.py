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
        subject=mail.subject, text=mail.text, html=mail.html, mail_from=settings.mail_from,
        headers={"X-Chat3D-Message-Id": message_id},
    )
    if not settings.smtp_enabled:
        mailbox.write_message(message_id, to, mail, message.as_string())
        return
    smtp = {"host": settings.smtp_host, "port": settings.smtp_port, "timeout": settings.smtp_timeout_s, "tls": settings.smtp_tls}
    if settings.smtp_user:
        smtp.update(user=settings.smtp_user, password=settings.smtp_password)
    with SMTPBackend(**smtp) as backend:
        response = message.send(to=to, smtp=backend)
    if not response.success:
        raise DeliveryError(repr(response.error) if response.error else f"SMTP answered {response.status_code}")

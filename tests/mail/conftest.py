"""Mail test fixtures: the account fixtures of tests/domain and a real SMTP server (aiosmtpd) in-process."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import free_port


class Inbox:
    """Collects every message the SMTP server accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(accounts_env, monkeypatch):
    """Settings point at an SMTP server on a free port (no auth, no TLS); the test decides when it runs."""
    from chat3d.settings import reset_settings_cache

    server = SmtpServer()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(server.port))
    monkeypatch.setenv("SMTP_TLS", "false")
    monkeypatch.setenv("SMTP_TIMEOUT_S", "2")
    reset_settings_cache()
    yield server
    server.stop()

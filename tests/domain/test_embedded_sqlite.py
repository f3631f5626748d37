"""The embedded default (SQLite, no Redis, no SMTP): the same account and mail rules hold."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from chat3d.db.engine import engine_for, get_engine
from chat3d.db.migrate import upgrade_to_head
from chat3d.domain.auth import authenticate
from chat3d.domain.errors import Unauthorized
from chat3d.domain.outbox import deliver_due_mail, list_dev_mailbox
from chat3d.domain.registration import register
from chat3d.domain.sessions import list_sessions, logout, user_from_token
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD


def test_accounts_and_mail_on_sqlite(accounts_env, tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REGISTRATION_EMAIL_VERIFICATION", "false")  # a closed deployment: signed in at once
    reset_settings_cache()
    upgrade_to_head(url)
    try:
        with Session(get_engine(), expire_on_commit=False) as db:
            first, user = register(db, "a@example.com", PASSWORD, "Ann")
            db.commit()
            second, _ = authenticate(db, "a@example.com", PASSWORD, "127.0.0.1", "ua")
            db.commit()
            assert list_sessions(db, user.id)[1] == 2
            logout(db, first)
            db.commit()
            with pytest.raises(Unauthorized):
                user_from_token(db, first)
            assert user_from_token(db, second).id == user.id
            assert deliver_due_mail(db) == 1
        [mail], total = list_dev_mailbox()
        assert total == 1 and mail["to"] == "a@example.com" and "Ann" in mail["text"]
    finally:
        engine_for(url).dispose()

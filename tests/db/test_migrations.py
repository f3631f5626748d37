"""The Alembic chain builds the whole schema on PostgreSQL and SQLite, and goes down and up again."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from chat3d.db import models
from chat3d.db.migrate import alembic_config, downgrade_to_base, upgrade_to_head
from tests.conftest import _admin_exec, database_url_for

EXPECTED_TABLES = {
    "users", "app_settings", "waitlist_entries", "waitlist_confirmation_tokens", "registration_tokens",
    "invitations", "account_actions", "notifications", "chat_contexts", "chat_items", "queries", "files",
    "admin_audit_logs", "security_events", "user_sessions", "outbox_messages", "shares",
    "deployment_keys", "invitation_sends",
}


def _tables(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        return set(sa.inspect(eng).get_table_names()) - {"alembic_version"}
    finally:
        eng.dispose()


@pytest.fixture
def empty_pg_database(pg_admin_url: str):
    name = f"chat3d_m_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name}")
    yield database_url_for(pg_admin_url, name)
    _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_postgres_upgrade_downgrade_upgrade(empty_pg_database: str) -> None:
    upgrade_to_head(empty_pg_database)
    assert EXPECTED_TABLES <= _tables(empty_pg_database)
    assert set(models.metadata.tables) <= _tables(empty_pg_database)
    downgrade_to_base(empty_pg_database)
    assert _tables(empty_pg_database) == set()
    upgrade_to_head(empty_pg_database)
    assert set(models.metadata.tables) <= _tables(empty_pg_database)


def test_models_and_migrations_agree_on_postgres(empty_pg_database: str) -> None:
    """A model change without its migration fails here (what `alembic check` reports)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade_to_head(empty_pg_database)
    eng = sa.create_engine(empty_pg_database)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), models.metadata)
    eng.dispose()
    assert diff == []


def test_sqlite_smoke(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'smoke.db'}"
    upgrade_to_head(url)
    assert set(models.metadata.tables) <= _tables(url)
    downgrade_to_base(url)
    upgrade_to_head(url)
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        row = conn.execute(sa.text("SELECT invitation_quota_per_user FROM app_settings WHERE id = 1")).one()
        # 0004 widened the account action types on SQLite too (the table is rebuilt for the CHECK constraint).
        check = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'account_actions'")).scalar_one()
    eng.dispose()
    assert row[0] == 3  # the invitation quota's default since 0004 (mails per 30 days)
    assert "'email_verification'" in check


def test_alembic_config_points_at_this_repo() -> None:
    cfg = alembic_config("sqlite://")
    assert cfg.get_main_option("script_location").endswith("alembic")


def test_deleting_a_user_never_fails_on_references(session) -> None:
    """Rows a user owns go with them; rows that merely mention them keep existing without the link."""
    from chat3d.db.models import (
        AdminAuditLog, AppSettings, ChatContext, ChatItem, Invitation, Notification, Query, SecurityEvent,
        StoredFile, User, WaitlistEntry,
    )

    admin = User(email="a@example.com", role="admin")
    other = User(email="b@example.com")
    session.add_all([admin, other])
    session.flush()
    ctx = ChatContext(owner_id=admin.id, name="c")
    session.add(ctx)
    session.flush()
    item = ChatItem(context_id=ctx.id, owner_id=admin.id, role="user", segments=[{"type": "text", "text": "hi"}])
    session.add(item)
    session.flush()
    q = Query(owner_id=admin.id, context_id=ctx.id, user_item_id=item.id)
    session.add(q)
    session.flush()
    session.add_all([
        StoredFile(owner_id=admin.id, context_id=ctx.id, item_id=item.id, query_id=q.id, format="stl",
                   filename="m.stl", content_type="model/stl", sha256="0" * 64, storage_path="x"),
        Notification(user_id=admin.id, event_type="notification.created", payload={}),
        Invitation(inviter_id=admin.id, email="c@example.com"),
        WaitlistEntry(email="d@example.com", invited_by=admin.id, approved_by=admin.id),
        AdminAuditLog(actor_id=admin.id, action="user.deactivate", target_type="user", target_id=str(other.id)),
        SecurityEvent(user_id=admin.id, event_type="login.failed"),
    ])
    other.deactivated_by = admin.id
    settings_row = session.get(AppSettings, 1)
    settings_row.updated_by = admin.id
    session.commit()

    session.delete(admin)
    session.commit()
    session.expire_all()
    assert session.get(User, other.id).deactivated_by is None
    assert session.exec(sa.select(sa.func.count()).select_from(ChatItem)).one()[0] == 0
    assert session.exec(sa.select(sa.func.count()).select_from(StoredFile)).one()[0] == 0
    entry = session.exec(sa.select(WaitlistEntry)).one()[0]
    assert entry.invited_by is None and entry.approved_by is None
    audit = session.exec(sa.select(AdminAuditLog)).one()[0]
    assert audit.actor_id is None and audit.action == "user.deactivate"
    assert session.get(AppSettings, 1).updated_by is None

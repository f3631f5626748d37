"""The Alembic chain builds the whole schema on PostgreSQL and SQLite, and goes down and up again."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest
import sqlalchemy as sa

from alembic import command
from chat3d.db import models
from chat3d.db.migrate import alembic_config, upgrade_to_head
from tests.conftest import _admin_exec, database_url_for

EXPECTED_TABLES = {
    "users", "app_settings", "waitlist_entries", "waitlist_confirmation_tokens", "registration_tokens",
    "invitations", "account_actions", "notifications", "chat_contexts", "chat_items", "queries", "files",
    "admin_audit_logs", "security_events", "user_sessions", "outbox_messages", "shares",
    "deployment_keys", "invitation_sends", "evaluation_runs",
}


def downgrade_to_base(url: str) -> None:
    command.downgrade(alembic_config(url), "base")


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
        AdminAuditLog,
        AppSettings,
        ChatContext,
        ChatItem,
        Invitation,
        Notification,
        Query,
        SecurityEvent,
        StoredFile,
        User,
        WaitlistEntry,
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


def test_the_chain_has_exactly_one_head() -> None:
    """Two revisions on one parent (parallel work) would leave `alembic upgrade head` ambiguous."""
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads() == ["0007"]


def test_schema_parity_0005(empty_pg_database: str, tmp_path) -> None:
    """Issue 24 item 7: users.role indexed, JSONB on PostgreSQL, password_hash NOT NULL (a NULL written before the
    revision becomes the no-password marker), and timestamps read back with a zone on SQLite too."""

    from sqlmodel import Session

    from alembic import command

    command.upgrade(alembic_config(empty_pg_database), "0004")
    eng = sa.create_engine(empty_pg_database)
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, email, password_hash, display_name, role, status, marketing_consent,"
                             " created_at, updated_at) VALUES (:id, 'p@example.com', NULL, '', 'user',"
                             " 'pending_registration', false, now(), now())"), {"id": uuid.uuid4()})
    upgrade_to_head(empty_pg_database)
    inspector = sa.inspect(eng)
    assert any(ix["column_names"] == ["role"] for ix in inspector.get_indexes("users"))
    columns = {c["name"]: c for c in inspector.get_columns("users")}
    assert columns["password_hash"]["nullable"] is False
    payload = {c["name"]: c for c in inspector.get_columns("notifications")}["payload"]
    assert payload["type"].__class__.__name__ == "JSONB"
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT password_hash FROM users")).scalar_one() == models.NO_PASSWORD
    downgrade_to_base(empty_pg_database)
    eng.dispose()

    url = f"sqlite:///{tmp_path / 'tz.db'}"
    upgrade_to_head(url)
    lite = sa.create_engine(url)
    with Session(lite) as session:
        session.add(models.User(email="tz@example.com"))
        session.commit()
        user = session.exec(sa.select(models.User)).one()[0]
        session.expire_all()
        assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == UTC.utcoffset(None)
    lite.dispose()

"""Schema parity (issue 24 item 7): users.role indexed, JSONB on PostgreSQL, password_hash NOT NULL.

- `ix_users_role`: the admin user list filters by role, and every event fan-out to admins selects by it.
- JSON columns become JSONB on PostgreSQL (compact, compared by value, indexable); other databases keep JSON.
- `users.password_hash` is NOT NULL: every account has one. Registered accounts always stored a bcrypt hash
  (seeds included); only unconfirmed registrations (`pending_registration`, whose chosen password waits in
  their email-verification action) had NULL. They now hold `'!'` (`models.NO_PASSWORD`), which no password
  matches, until the confirmation link sets the real hash; this revision fills existing NULLs the same way,
  and the downgrade turns `'!'` back into NULL.
Timestamps need no DDL: PostgreSQL columns are already `timestamptz`; on SQLite the model's `UTCDateTime`
type reads them back with the UTC zone attached.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON_COLUMNS = [
    ('account_actions', 'payload'), ('admin_audit_logs', 'details'), ('notifications', 'payload'),
    ('outbox_messages', 'context'), ('security_events', 'details'), ('chat_items', 'segments'),
]


def upgrade() -> None:
    op.create_index(op.f('ix_users_role'), 'users', ['role'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=postgresql.JSONB(), existing_type=sa.JSON(),
                            existing_nullable=False, postgresql_using=f'{column}::jsonb')
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    with op.batch_alter_table('users') as batch:
        batch.alter_column('password_hash', existing_type=sa.String(length=255), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.alter_column('password_hash', existing_type=sa.String(length=255), nullable=True)
    op.execute("UPDATE users SET password_hash = NULL WHERE password_hash = '!'")
    if op.get_bind().dialect.name == 'postgresql':
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=sa.JSON(), existing_type=postgresql.JSONB(),
                            existing_nullable=False, postgresql_using=f'{column}::json')
    op.drop_index(op.f('ix_users_role'), table_name='users')

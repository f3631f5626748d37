"""Initial schema: accounts, waitlist, invitations, actions, notifications, chats, queries, files, audit.

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 23:57:48.351600
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('deactivated_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deactivation_reason', sa.String(length=500), nullable=True),
    sa.Column('deactivated_by', sa.Uuid(), nullable=True),
    sa.Column('marketing_consent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'user')", name=op.f('ck_users_role')),
    sa.CheckConstraint("status IN ('active', 'deactivated', 'pending_registration')", name=op.f('ck_users_status')),
    sa.ForeignKeyConstraint(['deactivated_by'], ['users.id'], name=op.f('fk_users_deactivated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_index(op.f('ix_users_email'), 'users', ['email'], unique=True)
    op.create_index(op.f('ix_users_status'), 'users', ['status'], unique=False)
    op.create_table('account_actions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'completed', 'expired', 'cancelled')", name=op.f('ck_account_actions_status')),
    sa.CheckConstraint("type IN ('password_reset', 'email_change', 'data_export', 'account_delete', 'account_reactivate')", name=op.f('ck_account_actions_type')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_actions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_actions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_actions_token_hash'))
    )
    op.create_index(op.f('ix_account_actions_user_id'), 'account_actions', ['user_id'], unique=False)
    op.create_table('admin_audit_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_admin_audit_logs_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit_logs'))
    )
    op.create_index(op.f('ix_admin_audit_logs_action'), 'admin_audit_logs', ['action'], unique=False)
    op.create_index(op.f('ix_admin_audit_logs_actor_id'), 'admin_audit_logs', ['actor_id'], unique=False)
    op.create_table('app_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('waitlist_enabled', sa.Boolean(), nullable=False),
    sa.Column('invitations_enabled', sa.Boolean(), nullable=False),
    sa.Column('invitation_waitlist_required', sa.Boolean(), nullable=False),
    sa.Column('invitation_quota_per_user', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_app_settings_singleton')),
    sa.CheckConstraint('invitation_quota_per_user >= 0', name=op.f('ck_app_settings_quota')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_app_settings_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_settings'))
    )
    op.create_table('chat_contexts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('conversation_model_id', sa.String(length=100), nullable=True),
    sa.Column('codegen_model_id', sa.String(length=100), nullable=True),
    sa.Column('units', sa.String(length=4), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("units IN ('mm', 'in')", name=op.f('ck_chat_contexts_units')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_chat_contexts_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_contexts'))
    )
    op.create_index(op.f('ix_chat_contexts_owner_id'), 'chat_contexts', ['owner_id'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index('ix_notifications_user_id_id', 'notifications', ['user_id', 'id'], unique=False)
    op.create_table('security_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    op.create_index(op.f('ix_security_events_event_type'), 'security_events', ['event_type'], unique=False)
    op.create_index(op.f('ix_security_events_user_id'), 'security_events', ['user_id'], unique=False)
    op.create_table('waitlist_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('marketing_consent', sa.Boolean(), nullable=False),
    sa.Column('invited_by', sa.Uuid(), nullable=True),
    sa.Column('email_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('approved_by', sa.Uuid(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending_email_confirmation', 'pending_admin_approval', 'approved', 'rejected')", name=op.f('ck_waitlist_entries_status')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_waitlist_entries_approved_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_waitlist_entries_invited_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries'))
    )
    op.create_index(op.f('ix_waitlist_entries_email'), 'waitlist_entries', ['email'], unique=True)
    op.create_index(op.f('ix_waitlist_entries_invited_by'), 'waitlist_entries', ['invited_by'], unique=False)
    op.create_index(op.f('ix_waitlist_entries_status'), 'waitlist_entries', ['status'], unique=False)
    op.create_table('chat_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('context_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('segments', sa.JSON(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('regenerated_from_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f('ck_chat_items_role')),
    sa.CheckConstraint('rating IN (-1, 0, 1)', name=op.f('ck_chat_items_rating')),
    sa.ForeignKeyConstraint(['context_id'], ['chat_contexts.id'], name=op.f('fk_chat_items_context_id_chat_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_chat_items_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['regenerated_from_id'], ['chat_items.id'], name=op.f('fk_chat_items_regenerated_from_id_chat_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_items'))
    )
    op.create_index('ix_chat_items_context_created', 'chat_items', ['context_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_chat_items_owner_id'), 'chat_items', ['owner_id'], unique=False)
    op.create_table('registration_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('invited_by', sa.Uuid(), nullable=True),
    sa.Column('waitlist_entry_id', sa.Uuid(), nullable=True),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('used_count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('waitlist', 'admin_invite', 'user_invite')", name=op.f('ck_registration_tokens_source')),
    sa.CheckConstraint('used_count >= 0 AND used_count <= max_uses', name=op.f('ck_registration_tokens_uses')),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_registration_tokens_invited_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['waitlist_entry_id'], ['waitlist_entries.id'], name=op.f('fk_registration_tokens_waitlist_entry_id_waitlist_entries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_tokens_token_hash'))
    )
    op.create_index(op.f('ix_registration_tokens_email'), 'registration_tokens', ['email'], unique=False)
    op.create_index(op.f('ix_registration_tokens_invited_by'), 'registration_tokens', ['invited_by'], unique=False)
    op.create_table('waitlist_confirmation_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['waitlist_entries.id'], name=op.f('fk_waitlist_confirmation_tokens_entry_id_waitlist_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_confirmation_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_waitlist_confirmation_tokens_token_hash'))
    )
    op.create_index(op.f('ix_waitlist_confirmation_tokens_entry_id'), 'waitlist_confirmation_tokens', ['entry_id'], unique=False)
    op.create_table('invitations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('inviter_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('registration_token_id', sa.Uuid(), nullable=True),
    sa.Column('waitlist_entry_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'waitlisted', 'registration_sent', 'accepted', 'expired', 'revoked')", name=op.f('ck_invitations_status')),
    sa.ForeignKeyConstraint(['inviter_id'], ['users.id'], name=op.f('fk_invitations_inviter_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_token_id'], ['registration_tokens.id'], name=op.f('fk_invitations_registration_token_id_registration_tokens'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['waitlist_entry_id'], ['waitlist_entries.id'], name=op.f('fk_invitations_waitlist_entry_id_waitlist_entries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('inviter_id', 'email', name='uq_invitations_inviter_id_email')
    )
    op.create_index(op.f('ix_invitations_email'), 'invitations', ['email'], unique=False)
    op.create_index(op.f('ix_invitations_inviter_id'), 'invitations', ['inviter_id'], unique=False)
    op.create_table('queries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('context_id', sa.Uuid(), nullable=False),
    sa.Column('user_item_id', sa.Uuid(), nullable=True),
    sa.Column('assistant_item_id', sa.Uuid(), nullable=True),
    sa.Column('regenerates_item_id', sa.Uuid(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('conversation_model_id', sa.String(length=100), nullable=True),
    sa.Column('codegen_model_id', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'conversation', 'codegen', 'rendering', 'repairing', 'completed', 'failed', 'cancelled')", name=op.f('ck_queries_state')),
    sa.ForeignKeyConstraint(['assistant_item_id'], ['chat_items.id'], name=op.f('fk_queries_assistant_item_id_chat_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['context_id'], ['chat_contexts.id'], name=op.f('fk_queries_context_id_chat_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_queries_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['regenerates_item_id'], ['chat_items.id'], name=op.f('fk_queries_regenerates_item_id_chat_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_item_id'], ['chat_items.id'], name=op.f('fk_queries_user_item_id_chat_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queries'))
    )
    op.create_index(op.f('ix_queries_context_id'), 'queries', ['context_id'], unique=False)
    op.create_index(op.f('ix_queries_owner_id'), 'queries', ['owner_id'], unique=False)
    op.create_index('ix_queries_state_lease', 'queries', ['state', 'lease_expires_at'], unique=False)
    op.create_table('files',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('context_id', sa.Uuid(), nullable=True),
    sa.Column('item_id', sa.Uuid(), nullable=True),
    sa.Column('query_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_path', sa.String(length=500), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('model', 'upload', 'export')", name=op.f('ck_files_kind')),
    sa.ForeignKeyConstraint(['context_id'], ['chat_contexts.id'], name=op.f('fk_files_context_id_chat_contexts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['chat_items.id'], name=op.f('fk_files_item_id_chat_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_files_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['query_id'], ['queries.id'], name=op.f('fk_files_query_id_queries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_index(op.f('ix_files_context_id'), 'files', ['context_id'], unique=False)
    op.create_index(op.f('ix_files_item_id'), 'files', ['item_id'], unique=False)
    op.create_index(op.f('ix_files_owner_id'), 'files', ['owner_id'], unique=False)
    op.bulk_insert(
        sa.table(
            "app_settings",
            sa.column("id", sa.Integer),
            sa.column("waitlist_enabled", sa.Boolean),
            sa.column("invitations_enabled", sa.Boolean),
            sa.column("invitation_waitlist_required", sa.Boolean),
            sa.column("invitation_quota_per_user", sa.Integer),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        ),
        [{"id": 1, "waitlist_enabled": False, "invitations_enabled": True, "invitation_waitlist_required": False,
          "invitation_quota_per_user": 5, "updated_at": datetime.now(timezone.utc)}],
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_files_owner_id'), table_name='files')
    op.drop_index(op.f('ix_files_item_id'), table_name='files')
    op.drop_index(op.f('ix_files_context_id'), table_name='files')
    op.drop_table('files')
    op.drop_index('ix_queries_state_lease', table_name='queries')
    op.drop_index(op.f('ix_queries_owner_id'), table_name='queries')
    op.drop_index(op.f('ix_queries_context_id'), table_name='queries')
    op.drop_table('queries')
    op.drop_index(op.f('ix_invitations_inviter_id'), table_name='invitations')
    op.drop_index(op.f('ix_invitations_email'), table_name='invitations')
    op.drop_table('invitations')
    op.drop_index(op.f('ix_waitlist_confirmation_tokens_entry_id'), table_name='waitlist_confirmation_tokens')
    op.drop_table('waitlist_confirmation_tokens')
    op.drop_index(op.f('ix_registration_tokens_invited_by'), table_name='registration_tokens')
    op.drop_index(op.f('ix_registration_tokens_email'), table_name='registration_tokens')
    op.drop_table('registration_tokens')
    op.drop_index(op.f('ix_chat_items_owner_id'), table_name='chat_items')
    op.drop_index('ix_chat_items_context_created', table_name='chat_items')
    op.drop_table('chat_items')
    op.drop_index(op.f('ix_waitlist_entries_status'), table_name='waitlist_entries')
    op.drop_index(op.f('ix_waitlist_entries_invited_by'), table_name='waitlist_entries')
    op.drop_index(op.f('ix_waitlist_entries_email'), table_name='waitlist_entries')
    op.drop_table('waitlist_entries')
    op.drop_index(op.f('ix_security_events_user_id'), table_name='security_events')
    op.drop_index(op.f('ix_security_events_event_type'), table_name='security_events')
    op.drop_table('security_events')
    op.drop_index('ix_notifications_user_id_id', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_chat_contexts_owner_id'), table_name='chat_contexts')
    op.drop_table('chat_contexts')
    op.drop_table('app_settings')
    op.drop_index(op.f('ix_admin_audit_logs_actor_id'), table_name='admin_audit_logs')
    op.drop_index(op.f('ix_admin_audit_logs_action'), table_name='admin_audit_logs')
    op.drop_table('admin_audit_logs')
    op.drop_index(op.f('ix_account_actions_user_id'), table_name='account_actions')
    op.drop_table('account_actions')
    op.drop_index(op.f('ix_users_status'), table_name='users')
    op.drop_index(op.f('ix_users_email'), table_name='users')
    op.drop_table('users')

"""Account security (issue 21): deployment keys, the invitation send log, the email-verification action.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_OLD_TYPES = "'password_reset', 'email_change', 'data_export', 'account_delete', 'account_reactivate'"
_NEW_TYPES = _OLD_TYPES + ", 'email_verification'"


def _action_types(allowed: str) -> None:
    # batch mode recreates the table on SQLite (which cannot alter a CHECK constraint) and alters it in place elsewhere.
    with op.batch_alter_table('account_actions', recreate='auto') as batch:
        batch.drop_constraint(op.f('ck_account_actions_type'), type_='check')
        batch.create_check_constraint(op.f('ck_account_actions_type'), f"type IN ({allowed})")


def upgrade() -> None:
    op.create_table('deployment_keys',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_deployment_keys'))
    )
    op.create_table('invitation_sends',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('inviter_id', sa.Uuid(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inviter_id'], ['users.id'], name=op.f('fk_invitation_sends_inviter_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_sends'))
    )
    op.create_index('ix_invitation_sends_inviter_id_sent_at', 'invitation_sends', ['inviter_id', 'sent_at'], unique=False)
    op.create_index('ix_invitation_sends_recipient_sent_at', 'invitation_sends', ['recipient', 'sent_at'], unique=False)
    _action_types(_NEW_TYPES)
    # The quota now counts mails sent in 30 days; an install whose admin never set it gets the new default, 3.
    op.execute("UPDATE app_settings SET invitation_quota_per_user = 3 "
               "WHERE invitation_quota_per_user = 5 AND updated_by IS NULL")


def downgrade() -> None:
    op.execute("UPDATE app_settings SET invitation_quota_per_user = 5 "
               "WHERE invitation_quota_per_user = 3 AND updated_by IS NULL")
    op.execute("DELETE FROM account_actions WHERE type = 'email_verification'")
    _action_types(_OLD_TYPES)
    op.drop_index('ix_invitation_sends_recipient_sent_at', table_name='invitation_sends')
    op.drop_index('ix_invitation_sends_inviter_id_sent_at', table_name='invitation_sends')
    op.drop_table('invitation_sends')
    op.drop_table('deployment_keys')

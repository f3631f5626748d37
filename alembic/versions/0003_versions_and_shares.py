"""Versions (the chat's current version pointer) and read-only share links.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:47:45.582130
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shares',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sa.Uuid(), nullable=False),
    sa.Column('context_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('last_viewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['chat_contexts.id'], name=op.f('fk_shares_context_id_chat_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['chat_items.id'], name=op.f('fk_shares_item_id_chat_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_shares_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shares')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_shares_token_hash'))
    )
    op.create_index(op.f('ix_shares_item_id'), 'shares', ['item_id'], unique=False)
    op.create_index(op.f('ix_shares_owner_id'), 'shares', ['owner_id'], unique=False)
    with op.batch_alter_table('chat_contexts') as batch:
        batch.add_column(sa.Column('current_version_item_id', sa.Uuid(), nullable=True))
        batch.add_column(sa.Column('current_version_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_contexts') as batch:
        batch.drop_column('current_version_at')
        batch.drop_column('current_version_item_id')
    op.drop_index(op.f('ix_shares_owner_id'), table_name='shares')
    op.drop_index(op.f('ix_shares_item_id'), table_name='shares')
    op.drop_table('shares')

"""Models in the admin console (issue 26 item 4): provider credentials and model choices.

- `llm_credentials`: one row per provider (OpenAI, Anthropic, xAI, Ollama) added in the console; the secret is
  encrypted with the deployment's credential key, the console shows only its fingerprint.
- `llm_model_choices`: which models users may pick and the defaults for conversation and code generation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'llm_credentials',
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('base_url', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Uuid(), nullable=True),
        sa.CheckConstraint("provider IN ('openai', 'anthropic', 'xai', 'ollama')",
                           name=op.f('ck_llm_credentials_provider')),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_llm_credentials_updated_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('provider', name=op.f('pk_llm_credentials')),
    )
    op.create_table(
        'llm_model_choices',
        sa.Column('model_id', sa.String(length=128), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('default_conversation', sa.Boolean(), nullable=False),
        sa.Column('default_codegen', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_llm_model_choices_updated_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('model_id', name=op.f('pk_llm_model_choices')),
    )


def downgrade() -> None:
    op.drop_table('llm_model_choices')
    op.drop_table('llm_credentials')

"""Issue 23 (verified generation): `evaluation_runs`, the admin console's model evaluations (item 4).

One row per evaluation of a model on a benchmark suite: the worker job's state and progress, the cost
estimate and the cap the admin confirmed, and the measured figures kept as history (model, suite and code
versions, pass rate, cost per valid part, seconds). Other issue 23 tables belong in this same revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:10:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evaluation_runs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('model', sa.String(length=256), nullable=False),
        sa.Column('conversation_model', sa.String(length=128), nullable=False),
        sa.Column('codegen_model', sa.String(length=128), nullable=False),
        sa.Column('suite', sa.String(length=64), nullable=False),
        sa.Column('suite_version', sa.String(length=128), nullable=False),
        sa.Column('code_version', sa.String(length=128), nullable=False),
        sa.Column('tasks_total', sa.Integer(), nullable=False),
        sa.Column('tasks_done', sa.Integer(), nullable=False),
        sa.Column('valid_parts', sa.Integer(), nullable=False),
        sa.Column('passed', sa.Integer(), nullable=False),
        sa.Column('input_tokens', sa.Integer(), nullable=False),
        sa.Column('output_tokens', sa.Integer(), nullable=False),
        sa.Column('estimate_usd', sa.Float(), nullable=False),
        sa.Column('cost_cap_usd', sa.Float(), nullable=False),
        sa.Column('cost_usd', sa.Float(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('cancel_requested', sa.Boolean(), nullable=False),
        sa.Column('current_task', sa.String(length=64), nullable=False),
        sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('worker_id', sa.String(length=100), nullable=True),
        sa.Column('created_by', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'completed', 'stopped', 'cancelled', 'failed')",
                           name=op.f('ck_evaluation_runs_state')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_evaluation_runs_created_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_runs')),
    )
    op.create_index('ix_evaluation_runs_created_at', 'evaluation_runs', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_evaluation_runs_created_at', table_name='evaluation_runs')
    op.drop_table('evaluation_runs')

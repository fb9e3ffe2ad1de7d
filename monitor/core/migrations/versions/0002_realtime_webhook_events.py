"""realtime: webhook events, when an account last heard from its webhook, removed items

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 11:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('setting_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['setting_id'], ['setting.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('digest'),
    )
    op.create_index('ix_webhook_event_due', 'webhook_event', ['state', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('webhook_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('webhook_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.drop_column('removed_at')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('webhook_since')
        batch.drop_column('webhook_at')
    op.drop_index('ix_webhook_event_due', table_name='webhook_event')
    op.drop_table('webhook_event')

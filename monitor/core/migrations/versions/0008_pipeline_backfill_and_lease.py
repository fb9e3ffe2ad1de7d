"""pipeline: planned poll times, backfill marks, the single-daemon lease

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('backfill_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('backfill_before', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('backfill', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'lease',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('holder', sa.String(length=300), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('lease')
    with op.batch_alter_table('item') as batch:
        batch.drop_column('backfill')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('backfill_before')
        batch.drop_column('backfill_since')
        batch.drop_column('next_poll_at')

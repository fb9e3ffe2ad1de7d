"""account.lease_holder / lease_until: a per-account poll lease, so replicas
sharing a PostgreSQL database never poll one account at once

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('lease_holder', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_account_next_poll_at', ['next_poll_at'])


def downgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.drop_index('ix_account_next_poll_at')
        batch.drop_column('lease_until')
        batch.drop_column('lease_holder')

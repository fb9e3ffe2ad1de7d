"""realtime: where an item off the setting's own page was found

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('source', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.drop_column('source')

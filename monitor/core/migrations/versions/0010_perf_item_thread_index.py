"""item: index (account_id, parent_external_id, created_at), so a batch's thread
lookups (monitor/threads.py) read only the siblings they need

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_item_thread', 'item', ['account_id', 'parent_external_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_item_thread', table_name='item')

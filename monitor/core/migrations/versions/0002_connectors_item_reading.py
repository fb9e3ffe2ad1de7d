"""connectors: items that could not be read, attachments, deletions seen on the platform

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('items_unreadable', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('attachment_type', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('attachment_url', sa.Text(), nullable=True))
        batch.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.drop_column('deleted_at')
        batch.drop_column('attachment_url')
        batch.drop_column('attachment_type')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('items_unreadable')

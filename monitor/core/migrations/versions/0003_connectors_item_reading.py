"""connectors: items that could not be read, comment attachments

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('items_unreadable', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('attachment_type', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('attachment_url', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.drop_column('attachment_url')
        batch.drop_column('attachment_type')
    with op.batch_alter_table('account') as batch:
        batch.drop_column('items_unreadable')

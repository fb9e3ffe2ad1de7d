"""item.hide_claimed_at (a hide is claimed before the platform call, so parallel presses make one)
and account.unreadable_at (when an item last could not be read, for the digest and /readyz)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('hide_claimed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('account') as batch:
        batch.add_column(sa.Column('unreadable_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('account') as batch:
        batch.drop_column('unreadable_at')
    with op.batch_alter_table('item') as batch:
        batch.drop_column('hide_claimed_at')

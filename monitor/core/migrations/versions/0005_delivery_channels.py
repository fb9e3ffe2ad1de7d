"""Channel-neutral outbox: channel + address + payload instead of to_addr + raw.

Rows queued before this keep working: their address is the old to_addr, their
channel "email", and their ready-made `raw` message is sent as it is.
Also: the claiming process (`claimed_by`), a table for channel-wide delivery
problems, and a person's addresses on other channels.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=30), nullable=False, server_default="email"))
        batch_op.add_column(sa.Column("address", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.alter_column("raw", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE outbox SET address = to_addr")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("address", existing_type=sa.String(length=500), nullable=False)
        batch_op.drop_column("to_addr")
        batch_op.drop_column("subject")

    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addresses", sa.JSON(), nullable=True))
    op.execute("UPDATE recipient SET addresses = '{}'")
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.alter_column("addresses", existing_type=sa.JSON(), nullable=False)

    op.create_table(
        "delivery_problem",
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_probe_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )


def downgrade() -> None:
    op.drop_table("delivery_problem")
    with op.batch_alter_table("recipient", schema=None) as batch_op:
        batch_op.drop_column("addresses")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_addr", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
    op.execute("UPDATE outbox SET to_addr = address, subject = ''")
    op.execute("DELETE FROM outbox WHERE raw IS NULL AND state IN ('pending', 'sending')")  # cannot be sent by 0001
    op.execute("UPDATE outbox SET raw = '' WHERE raw IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("to_addr", existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.String(length=300), nullable=False)
        batch_op.alter_column("raw", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("payload")
        batch_op.drop_column("address")
        batch_op.drop_column("channel")

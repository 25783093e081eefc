"""possible duplicates: a batch's hand-over mark, a delivery's flag and a send's count

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 05:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handing_over_upto", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "possible_duplicate", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("possible_duplicates", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_column("possible_duplicates")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("possible_duplicate")
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.drop_column("handing_over_upto")

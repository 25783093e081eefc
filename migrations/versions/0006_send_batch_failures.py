"""send_batches.failures and .error: a batch that keeps failing is parked, with its reason

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("error", sa.Text(), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("send_batches", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("failures")

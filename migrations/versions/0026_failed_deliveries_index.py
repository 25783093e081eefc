"""deliveries: a partial index of the failed ones by send, for a send's "why it failed" report

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'failed'")


def upgrade():
    op.create_index(
        "ix_deliveries_failed_by_send",
        "deliveries",
        ["send_id"],
        postgresql_where=FAILED,
        sqlite_where=FAILED,
    )


def downgrade():
    op.drop_index("ix_deliveries_failed_by_send", table_name="deliveries")

"""newsletter_reader_counts: each newsletter's readers by subscription status, kept as exact
counts in the transaction of each change (service/reader_counts.py); filled here from one full
count of the subscriptions

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 15:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

FILL = """
INSERT INTO newsletter_reader_counts (newsletter_id, status, readers)
SELECT newsletter_id, status, count(*) FROM subscriptions GROUP BY newsletter_id, status
"""


def upgrade():
    op.create_table(
        "newsletter_reader_counts",
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("readers", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["newsletter_id"],
            ["newsletters.id"],
            name=op.f("fk_newsletter_reader_counts_newsletter_id_newsletters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "newsletter_id", "status", name=op.f("pk_newsletter_reader_counts")
        ),
    )
    # One read of the subscriptions, in the migration's transaction: from here on every change
    # adds to these rows in its own transaction.
    op.execute(FILL)


def downgrade():
    op.drop_table("newsletter_reader_counts")

"""newsletter_source_days: signups and confirmations per newsletter, UTC day and page, updated in
the transaction of each change; subscriptions.signup_page, the page a pending signup came from

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "newsletter_source_days",
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("page", sa.String(length=500), nullable=False),
        sa.Column("signups", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("confirmations", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["newsletter_id"],
            ["newsletters.id"],
            name=op.f("fk_newsletter_source_days_newsletter_id_newsletters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "newsletter_id", "day", "page", name=op.f("pk_newsletter_source_days")
        ),
    )
    # Nullable, no default: on PostgreSQL a change of the catalogue only, however many rows.
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("signup_page", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("signup_page")
    op.drop_table("newsletter_source_days")

"""heartbeats: one row per worker and beat, their last sign of life for /readyz

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:30:00

"""

import sqlalchemy as sa
from alembic import op

import service.models.base


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("started_at", service.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", service.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )


def downgrade():
    op.drop_table("heartbeats")

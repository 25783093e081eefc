"""staff: the console's accounts (argon2 password hash, role, optional TOTP)

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07 08:00:00

"""

import sqlalchemy as sa
from alembic import op

import service.models.base

revision = "0023"
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("recovery_codes", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", service.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", service.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", service.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
    )


def downgrade():
    op.drop_table("staff")

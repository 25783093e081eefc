"""newsletters.allowed_origins: per-newsletter signup origin allowlist

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('allowed_origins', sa.JSON(), server_default='[]', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.drop_column('allowed_origins')

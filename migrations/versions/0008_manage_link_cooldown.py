"""subscribers.last_manage_link_sent_at: the manage-link email's per-reader cooldown

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:30:00

"""
from alembic import op
import sqlalchemy as sa
import service.models.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
                'last_manage_link_sent_at',
                service.models.base.UTCDateTime(timezone=True),
                nullable=True,
            ))


def downgrade():
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('last_manage_link_sent_at')

"""spooled_signups: receipts of signups accepted while the database was away

A signup spooled (Redis list or the instance's journal) during an outage is replayed into
the outbox once the database is back; its receipt, written in the same transaction, makes a
repeated replay a no-op.

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-07 07:45:00

"""
import sqlalchemy as sa
from alembic import op

import service.models.base


revision = '0025'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'spooled_signups',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('replayed_at', service.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_spooled_signups_replayed_at', 'spooled_signups', ['replayed_at'])


def downgrade():
    op.drop_index('ix_spooled_signups_replayed_at', table_name='spooled_signups')
    op.drop_table('spooled_signups')

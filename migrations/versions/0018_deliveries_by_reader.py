"""deliveries: an index by reader, newest change first, for a reader's timeline

The ledger's only index was (send_id, subscriber_id), so a reader's deliveries (the timeline's
third kind, and the erasure's delete) were a scan of every delivery ever made.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 05:50:00

"""
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

INDEX = 'ix_deliveries_subscriber_updated'


def upgrade():
    op.create_index(INDEX, 'deliveries', ['subscriber_id', 'updated_at', 'id'])


def downgrade():
    op.drop_index(INDEX, table_name='deliveries')

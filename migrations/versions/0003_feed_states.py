"""feed states: ETag / Last-Modified per polled feed URL

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24 17:25:00

"""
from alembic import op
import sqlalchemy as sa
import service.models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('modified', sa.String(length=100), nullable=True),
    sa.Column('checked_at', service.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_result', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_states')),
    sa.UniqueConstraint('url', name=op.f('uq_feed_states_url'))
    )


def downgrade():
    op.drop_table('feed_states')

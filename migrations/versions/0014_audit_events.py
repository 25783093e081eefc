"""audit_events: the audit log of operator actions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:30:00

"""
from alembic import op
import sqlalchemy as sa

import service.models.base


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', service.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('via', sa.String(length=8), nullable=False),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('target', sa.String(length=100), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )


def downgrade():
    op.drop_table('audit_events')

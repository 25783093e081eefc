"""subscriptions.consent_source: where staff-recorded consent came from (a confirmed import)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_source', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('consent_source')

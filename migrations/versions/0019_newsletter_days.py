"""newsletter_days: a daily aggregate per newsletter (signups, confirmations, unsubscribes,
bounces, complaints, erasures, net), updated in the transaction of each change

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 07:40:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

COUNTS = ('signups', 'confirmations', 'unsubscribes', 'bounces', 'complaints', 'erasures', 'net')


def upgrade():
    op.create_table(
        'newsletter_days',
        sa.Column('newsletter_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default='0') for name in COUNTS],
        sa.ForeignKeyConstraint(
            ['newsletter_id'], ['newsletters.id'],
            name=op.f('fk_newsletter_days_newsletter_id_newsletters'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('newsletter_id', 'day', name=op.f('pk_newsletter_days')),
    )


def downgrade():
    op.drop_table('newsletter_days')

"""subscribers: indexes for the admin list's filters

`created_at` for the signup-date filters (`created_after`, `created_before`), and on
PostgreSQL `email_key text_pattern_ops` so an `email_prefix` filter is an index range under
any database collation (SQLite compares bytes and needs none).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00

"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

PREFIX_INDEX = 'ix_subscribers_email_key_prefix'


def upgrade():
    op.create_index('ix_subscribers_created_at', 'subscribers', ['created_at'])
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index(
            PREFIX_INDEX,
            'subscribers',
            ['email_key'],
            postgresql_ops={'email_key': 'text_pattern_ops'},
        )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index(PREFIX_INDEX, table_name='subscribers')
    op.drop_index('ix_subscribers_created_at', table_name='subscribers')

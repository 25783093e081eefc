"""newsletters.translations: the name and description in other languages

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('translations', sa.JSON(), server_default='{}', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.drop_column('translations')

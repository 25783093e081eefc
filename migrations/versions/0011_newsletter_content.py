"""newsletters.archived and late_articles, articles.source_feed: each newsletter its own content

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('archived', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                'late_articles', sa.String(length=16), server_default='include', nullable=False
            )
        )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_feed', sa.String(length=2000), nullable=True))
        batch_op.create_index('ix_articles_source_feed', ['source_feed'])


def downgrade():
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_source_feed')
        batch_op.drop_column('source_feed')
    with op.batch_alter_table('newsletters', schema=None) as batch_op:
        batch_op.drop_column('late_articles')
        batch_op.drop_column('archived')

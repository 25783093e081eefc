"""list_imports: CSV lists uploaded over the API, imported by a worker; indexes for the
articles list (newest published first, by section)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 08:00:00

"""
import sqlalchemy as sa
from alembic import op

import service.models.base


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

WHEN = service.models.base.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'list_imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('newsletter_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=32), nullable=False),
        sa.Column('consent', sa.String(length=500), nullable=True),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('encoding', sa.String(length=32), nullable=True),
        sa.Column('rows_total', sa.Integer(), nullable=True),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('bad_rows', sa.JSON(), nullable=False),
        sa.Column('bad_rows_total', sa.Integer(), nullable=False),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('started_at', WHEN, nullable=True),
        sa.Column('finished_at', WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ['newsletter_id'], ['newsletters.id'],
            name=op.f('fk_list_imports_newsletter_id_newsletters'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_list_imports')),
    )
    op.create_index(op.f('ix_list_imports_newsletter_id'), 'list_imports', ['newsletter_id'])
    op.create_index('ix_articles_published_id', 'articles', ['published_at', 'id'])
    op.create_index('ix_articles_section_published_id', 'articles',
                    ['section', 'published_at', 'id'])


def downgrade():
    op.drop_index('ix_articles_section_published_id', table_name='articles')
    op.drop_index('ix_articles_published_id', table_name='articles')
    op.drop_index(op.f('ix_list_imports_newsletter_id'), table_name='list_imports')
    op.drop_table('list_imports')

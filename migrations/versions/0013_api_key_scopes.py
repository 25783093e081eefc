"""api_keys: scopes, and one active key per name

Every key gets `scopes` (space-separated: read, write, send, admin); keys made before this
revision were admin keys and stay so. A partial unique index allows one active key per name,
so `api-keys revoke NAME` means one key. An existing database may hold several active keys of
one name: the newest keeps the name, each older one is renamed `NAME-<id>` (still working,
listed under that name, revocable by it).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

INDEX = 'uq_api_keys_active_name'
ACTIVE = 'revoked_at IS NULL'


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('scopes', sa.String(length=100), server_default='admin', nullable=False)
        )
    bind = op.get_bind()
    active = bind.execute(
        sa.text(f'SELECT id, name FROM api_keys WHERE {ACTIVE} ORDER BY name, id DESC')
    ).all()
    seen = set()
    for key_id, name in active:
        if name in seen:
            renamed = f'{name[:100 - len(str(key_id)) - 1]}-{key_id}'
            bind.execute(
                sa.text('UPDATE api_keys SET name = :name WHERE id = :id'),
                {'name': renamed, 'id': key_id},
            )
        seen.add(name)
    op.create_index(
        INDEX,
        'api_keys',
        ['name'],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade():
    op.drop_index(INDEX, table_name='api_keys')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')

"""send batches with leases, and the planner lease on sends

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 17:25:00

"""
from alembic import op
import sqlalchemy as sa
import service.models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('send_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('send_id', sa.Integer(), nullable=False),
    sa.Column('after_id', sa.Integer(), nullable=False),
    sa.Column('upto_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', service.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', service.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['send_id'], ['sends.id'], name=op.f('fk_send_batches_send_id_sends'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_batches')),
    sa.UniqueConstraint('send_id', 'after_id', name=op.f('uq_send_batches_send_id_after_id'))
    )
    with op.batch_alter_table('send_batches', schema=None) as batch_op:
        batch_op.create_index('ix_send_batches_status_lease_until', ['status', 'lease_until'], unique=False)
        batch_op.create_index(batch_op.f('ix_send_batches_send_id'), ['send_id'], unique=False)
    with op.batch_alter_table('sends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', service.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('sends', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
    with op.batch_alter_table('send_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_batches_send_id'))
        batch_op.drop_index('ix_send_batches_status_lease_until')
    op.drop_table('send_batches')

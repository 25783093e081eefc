"""sends: at most one scheduled, sending or paused send per newsletter

A partial unique index on sends(newsletter_id) over the active statuses, so two `digest send`
at once (two processes, CLI and API, a cron slot during a manual send) cannot both make one:
the second INSERT fails on the database, on SQLite and PostgreSQL alike.

An existing database may already hold several active sends of one newsletter (the bug this
closes). Upgrading keeps the oldest of them and cancels the others, saying so in
`status_reason`; their batches see the cancel within seconds and stop.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = '0004'
branch_labels = None
depends_on = None

INDEX = 'uq_sends_one_active_per_newsletter'
ACTIVE = "status IN ('scheduled', 'sending', 'paused')"


def upgrade():
    bind = op.get_bind()
    active = bind.execute(
        sa.text(f"SELECT id, newsletter_id FROM sends WHERE {ACTIVE} ORDER BY newsletter_id, id")
    ).all()
    kept = {}
    for send_id, newsletter_id in active:
        if kept.setdefault(newsletter_id, send_id) == send_id:
            continue
        reason = f"cancelled on upgrade: send {kept[newsletter_id]} was already in progress"
        bind.execute(
            sa.text(
                "UPDATE sends SET status = 'cancelled', finished_at = CURRENT_TIMESTAMP, "
                "status_reason = :reason WHERE id = :id"
            ),
            {"id": send_id, "reason": reason},
        )
        bind.execute(
            sa.text(
                "UPDATE send_batches SET status = 'cancelled' "
                "WHERE send_id = :id AND status != 'done'"
            ),
            {"id": send_id},
        )
    op.create_index(
        INDEX,
        'sends',
        ['newsletter_id'],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade():
    op.drop_index(INDEX, table_name='sends')

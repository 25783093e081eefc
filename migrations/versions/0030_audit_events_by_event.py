"""audit_events: an index by event and time, so one kind of event in a time range (the
console's pending invitations) reads an index range, not the whole log

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 16:20:00

"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_events_event_at", "audit_events", ["event", "at"])


def downgrade():
    op.drop_index("ix_audit_events_event_at", table_name="audit_events")

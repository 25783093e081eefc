"""feedback events: bounces and complaints in, one row per notification; used provider tokens

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 07:40:00

"""

import sqlalchemy as sa
from alembic import op

from service.models.base import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "feedback_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("provider_event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bounce_class", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.String(length=16), nullable=False),
        sa.Column("diagnostic", sa.Text(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("send_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_feedback_events_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["send_id"],
            ["sends.id"],
            name=op.f("fk_feedback_events_send_id_sends"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_feedback_events_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_events")),
        sa.UniqueConstraint("source", "provider_event_id", name=op.f("uq_feedback_events_source")),
    )
    op.create_index(
        "ix_feedback_events_send_class",
        "feedback_events",
        ["send_id", "bounce_class", "subscriber_id"],
    )
    op.create_index(
        "ix_feedback_events_email_occurred", "feedback_events", ["email_hash", "occurred_at"]
    )
    op.create_index(op.f("ix_feedback_events_subscriber_id"), "feedback_events", ["subscriber_id"])
    op.create_table(
        "feedback_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_tokens")),
        sa.UniqueConstraint("source", "token", name=op.f("uq_feedback_tokens_source")),
    )
    op.create_index(op.f("ix_feedback_tokens_used_at"), "feedback_tokens", ["used_at"])


def downgrade():
    op.drop_table("feedback_tokens")
    op.drop_table("feedback_events")

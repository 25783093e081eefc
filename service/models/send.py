"""Sends (one digest mailing of a newsletter) and the delivery ledger that makes them idempotent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, utcnow
from service.models.newsletter import Newsletter


class SendStatus(StrEnum):
    """Lifecycle of a send."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    FAILED = "failed"


ACTIVE_STATUSES = (SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.PAUSED)
ACTIVE_SQL = "status IN ('scheduled', 'sending', 'paused')"


class DeliveryStatus(StrEnum):
    """Outcome of one message of a send."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"


class Send(Base):
    """One mailing of a newsletter: frozen content, status, counters and fan-out checkpoint."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "slot_key"),
        Index("ix_sends_status_scheduled_at", "status", "scheduled_at"),
        # At most one active send per newsletter (migration 0005): a second is refused.
        Index(
            "uq_sends_one_active_per_newsletter",
            "newsletter_id",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=SendStatus.SCHEDULED)
    slot_key: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    # Readers who may have received the send twice: handed over, then a fault before their
    # outcome was written, then sent again (migration 0016).
    possible_duplicates: Mapped[int] = mapped_column(default=0, server_default="0")
    max_subscriber_id: Mapped[int | None]
    checkpoint_subscriber_id: Mapped[int] = mapped_column(default=0)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    scheduled_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The fan-out planner's lease: a planner whose worker died is restarted by the watchdog.
    lease_until: Mapped[datetime | None]

    newsletter: Mapped[Newsletter] = relationship()


class BatchStatus(StrEnum):
    """Lifecycle of one batch of a send."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # some recipients got a 4xx: a Celery retry is due
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"  # parked: it kept failing for an unexpected reason (`error`)


class SendBatch(Base):
    """A slice of a send's recipients, subscriber ids in (after_id, upto_id], with a lease.

    A worker holds the lease while it delivers the slice; when the lease runs out (the
    worker died) the watchdog hands the batch to another worker, which skips every
    recipient already in the delivery ledger.
    """

    __tablename__ = "send_batches"
    __table_args__ = (
        UniqueConstraint("send_id", "after_id"),
        Index("ix_send_batches_status_lease_until", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"), index=True)
    after_id: Mapped[int]
    upto_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # Unexpected failures (not a relay's 4xx/5xx): after a few the batch is parked, `error` says why.
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Written before a message is handed to the relay: readers up to this id may have been
    # handed over without their outcome in the ledger (a later claim re-sends them flagged).
    handing_over_upto: Mapped[int] = mapped_column(default=0, server_default="0")
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """The ledger: one row per (send, subscriber), written when the relay accepts the message."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", "subscriber_id"),
        # a reader's deliveries, newest first (the timeline; the erasure's delete)
        Index("ix_deliveries_subscriber_updated", "subscriber_id", "updated_at", "id"),
        # a send's failures, few among many (the console's "why deliveries failed")
        Index(
            "ix_deliveries_failed_by_send",
            "send_id",
            postgresql_where=text("status = 'failed'"),
            sqlite_where=text("status = 'failed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    response: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Sent again after a fault may have cut off the record of an earlier hand-over.
    possible_duplicate: Mapped[bool] = mapped_column(default=False, server_default=false())

"""Feedback events: a bounce or a complaint about one message, from a provider or a relay.

One row per notification, unique on (source, provider_event_id): the same notification
twice is one row and acts once. The reader is kept as their id and the SHA-256 of their
address key (the suppression list's hash), never the address itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class FeedbackRecord(Base):
    """A bounce or complaint as recorded: where it came from, its class, what it was tied to."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        UniqueConstraint("source", "provider_event_id"),
        # a send's report and its brakes: counted per send, class and reader
        Index("ix_feedback_events_send_class", "send_id", "bounce_class", "subscriber_id"),
        # the soft-bounce window: an address's recent events
        Index("ix_feedback_events_email_occurred", "email_hash", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    provider_event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # bounce | complaint
    bounce_class: Mapped[str] = mapped_column(String(16))  # classify.CLASSES
    status_code: Mapped[str] = mapped_column(String(16), default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    email_hash: Mapped[str] = mapped_column(String(64), default="")
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    message_id: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(32), default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedToken(Base):
    """A provider's one-time token already accepted (Mailgun's `token`): never accepted again.

    Rows older than the freshness window can go: a token that old is refused as stale anyway.
    """

    __tablename__ = "feedback_tokens"
    __table_args__ = (UniqueConstraint("source", "token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

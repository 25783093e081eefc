"""Webhook endpoints the site registered for events out, and every attempt to deliver one.

An endpoint keeps its `whsec_` secret (it signs each delivery, so it cannot be a hash; after a
rotation the previous one signs too for a day), both sealed (`service.sealed`), the
event types it wants, and why it was disabled if it was (a 410, or failing for too long).
An attempt keeps the answer: status, a short excerpt of the body, how long it took.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class WebhookEndpoint(Base):
    """A URL that receives signed events of the types it lists."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(Text)  # sealed
    # After a rotation the old secret signs too, until it expires (receivers switch over).
    previous_secret: Mapped[str] = mapped_column(Text, default="")  # sealed, or ""
    previous_secret_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    # The first failed attempt since the last success (None while it answers).
    failing_since: Mapped[datetime | None]
    # The endpoint asked us to wait (429, Retry-After): no attempt before this.
    paused_until: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at delivering one event to one endpoint, with the endpoint's answer."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The HTTP status, or None when there was no answer (refused, timed out, blocked address).
    status_code: Mapped[int | None]
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
    # delivered | retrying | gave_up | disabled | dropped
    outcome: Mapped[str] = mapped_column(String(16))

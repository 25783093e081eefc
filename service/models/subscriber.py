"""Readers, their subscriptions, and the records that prove and trace their consent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from service.models.base import Base, utcnow
from service.models.newsletter import Newsletter


class SubscriptionStatus(StrEnum):
    """Where a reader stands with one newsletter."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class Subscriber(Base):
    """One email address. `email` is kept as typed; `email_key` is the case-insensitive key."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_ascii: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    smtputf8: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    state_version: Mapped[int] = mapped_column(default=0)
    last_confirmation_sent_at: Mapped[datetime | None]
    last_manage_link_sent_at: Mapped[datetime | None]  # per-reader cooldown (reader_mail)
    # indexed for the signup-date filters of the admin list; PostgreSQL also has an index for
    # `email_prefix` on email_key (text_pattern_ops, migration 0014)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Subscription.id"
    )

    def __repr__(self) -> str:
        return f"<Subscriber {self.id}>"


class Subscription(Base):
    """A subscriber on one newsletter, with the status that decides whether they are mailed."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "newsletter_id"),
        Index("ix_subscriptions_fanout", "newsletter_id", "status", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletters.id", ondelete="CASCADE"))
    # active_history: the old status is loaded before a write, so the readers by status
    # (`service.daily`, `service.reader_counts`) always see the move from old to new
    status: Mapped[str] = mapped_column(
        String(16), default=SubscriptionStatus.PENDING, active_history=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Where the consent came from when staff confirmed the reader (an import with --consent);
    # None when the reader confirmed by the emailed link (see the consent records).
    consent_source: Mapped[str | None] = mapped_column(String(500))
    # The page (normalised, `service.sources.pages`) of the last signup form that made this
    # subscription pending: its confirmation is counted for that page. None when no signup
    # form ever did (an import, the preference page).
    signup_page: Mapped[str | None] = mapped_column(String(500))

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    events: WriteOnlyMapped[SubscriptionEvent] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True
    )
    newsletter: Mapped[Newsletter] = relationship()

    def move_to(self, status: str, cause: str) -> bool:
        """Change the status and record the event with its cause; False if it already was there.

        The one way a status changes through the ORM (the worker applying signups writes the
        same events in bulk, `service.signup.apply`).
        """
        previous = self.status
        if previous == status:
            return False
        now = utcnow()
        self.status = status
        self.updated_at = now
        if status == SubscriptionStatus.UNSUBSCRIBED:
            self.unsubscribed_at = now
        elif status == SubscriptionStatus.CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = now
        self.events.add(
            SubscriptionEvent(from_status=previous, to_status=status, cause=cause, created_at=now)
        )
        return True


class SubscriptionEvent(Base):
    """Every change of a subscription's state, with its time and cause (audit trail)."""

    __tablename__ = "subscription_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscription: Mapped[Subscription] = relationship(back_populates="events")


class ConsentRecord(Base):
    """Proof of opt-in (GDPR): when, from where and through which form a reader asked or confirmed."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    newsletters: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    source_url: Mapped[str | None] = mapped_column(String(2000))
    form: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship()


class Suppression(Base):
    """An address that must never be mailed again, kept only as a SHA-256 of its key."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

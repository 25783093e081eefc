"""A newsletter's readers by subscription status, as exact counts: one row per newsletter and
status, kept in the transaction of each change (`service.reader_counts`), so how many readers a
newsletter has is a read of at most four rows, never a count of its subscriptions."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base


class NewsletterReaderCount(Base):
    """How many of one newsletter's subscriptions are in one status (`SubscriptionStatus`)."""

    __tablename__ = "newsletter_reader_counts"

    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    readers: Mapped[int] = mapped_column(default=0)

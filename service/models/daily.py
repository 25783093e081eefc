"""A newsletter's day in figures: how many readers signed up, confirmed, left, bounced or were
erased, and the day's net change in confirmed readers. Kept up to date in the transaction of
each change (`service.daily`), so reading a series is a range scan of a few rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base

COUNTS = ("signups", "confirmations", "unsubscribes", "bounces", "complaints", "erasures", "net")


class NewsletterDay(Base):
    """One newsletter's counts for one UTC day (a row only for days with a change)."""

    __tablename__ = "newsletter_days"

    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    signups: Mapped[int] = mapped_column(default=0)
    confirmations: Mapped[int] = mapped_column(default=0)
    unsubscribes: Mapped[int] = mapped_column(default=0)
    bounces: Mapped[int] = mapped_column(default=0)
    complaints: Mapped[int] = mapped_column(default=0)
    erasures: Mapped[int] = mapped_column(default=0)
    # confirmed readers at the end of the day minus at its start (may be negative)
    net: Mapped[int] = mapped_column(default=0)

"""A newsletter's day by page: how many readers signed up on each page of the site, and how many
readers who signed up there confirmed that day. Kept in the transaction of each change
(`service.sources`), so the top pages of a month are a range scan of a few hundred rows."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base

PAGE_MAX = 500  # characters of a page kept (scheme, host, path); see service.sources.pages


class NewsletterSourceDay(Base):
    """One newsletter's counts for one UTC day and one page (a row only for pages with a
    change that day). `page` is a normalised URL, `other` or `direct`."""

    __tablename__ = "newsletter_source_days"

    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    page: Mapped[str] = mapped_column(String(PAGE_MAX), primary_key=True)
    signups: Mapped[int] = mapped_column(default=0)
    confirmations: Mapped[int] = mapped_column(default=0)

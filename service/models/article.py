"""Articles pushed by the site or read from its feeds: the material digests are built from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class Article(Base):
    """One story, keyed by its canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        # the admin list: newest published first, keyset on (published_at, id) (0020)
        Index("ix_articles_published_id", "published_at", "id"),
        Index("ix_articles_section_published_id", "section", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    guid: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(500))
    summary_html: Mapped[str] = mapped_column(Text, default="")
    summary_text: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    section: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    editors_pick: Mapped[bool] = mapped_column(default=False)
    # The newsletter feed (`Newsletter.feed_url`) it was first stored from; None: the site's
    # own articles (API, `articles import-feed` of a feed no newsletter owns), for every other
    # newsletter.
    source_feed: Mapped[str | None] = mapped_column(String(2000), index=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

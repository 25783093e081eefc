"""A newsletter readers can subscribe to, with its digest schedule and composition rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class Newsletter(Base):
    """A named list (`daily`, `explaining-ukraine`) with its cron schedule and digest settings."""

    __tablename__ = "newsletters"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    schedule_cron: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Kyiv")
    from_address: Mapped[str | None] = mapped_column(String(254))
    min_new_articles: Mapped[int] = mapped_column(default=1)
    # Listed on public pages (embed list, /subscribe, /forms, preference pages, archive).
    is_public: Mapped[bool] = mapped_column(default=True)
    # Its own RSS/Atom feed, polled by beat: that feed's articles go to this newsletter only,
    # and a newsletter with a feed takes no other articles.
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    # Which articles it takes: {"sections": [...], "tags": [...], "authors": [...]}, any-of each.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Retired: no sends, on no public page, no new signups; its readers are kept.
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An article published before the last send started but stored after it: "include"
    # (the next digest takes it) or "skip" (counted and named in previews and sends).
    late_articles: Mapped[str] = mapped_column(
        String(16), default="include", server_default="include"
    )
    rate_limit_per_second: Mapped[float | None]
    # Origins (besides the global ALLOWED_ORIGINS) whose pages may sign readers up to this one.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The name and description in other languages: {"uk": {"name": ..., "description": ...}}.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @classmethod
    def listed(cls) -> ColumnElement[bool]:
        """The SQL condition of a newsletter shown on public pages: public and not archived."""
        return cls.is_public.is_(True) & cls.archived.is_(False)

    def name_in(self, locale: str | None) -> str:
        """The name a reader of `locale` sees: its translation, or the English name."""
        return (self.translations or {}).get(locale or "", {}).get("name") or self.name

    def description_in(self, locale: str | None) -> str:
        """The description in `locale`, or the English one when it has no translation."""
        translated = (self.translations or {}).get(locale or "", {}).get("description")
        return translated or self.description or ""

    def __repr__(self) -> str:
        return f"<Newsletter {self.slug}>"

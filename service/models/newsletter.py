"""A newsletter readers can subscribe to, with its digest schedule and composition rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
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
    is_public: Mapped[bool] = mapped_column(default=True)
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rate_limit_per_second: Mapped[float | None]
    # Origins (besides the global ALLOWED_ORIGINS) whose pages may sign readers up to this one.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The name and description in other languages: {"uk": {"name": ..., "description": ...}}.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def name_in(self, locale: str | None) -> str:
        """The name a reader of `locale` sees: its translation, or the English name."""
        return (self.translations or {}).get(locale or "", {}).get("name") or self.name

    def description_in(self, locale: str | None) -> str:
        """The description in `locale`, or the English one when it has no translation."""
        translated = (self.translations or {}).get(locale or "", {}).get("description")
        return translated or self.description or ""

    def __repr__(self) -> str:
        return f"<Newsletter {self.slug}>"

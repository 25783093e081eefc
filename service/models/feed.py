"""Feeds polled by beat: the conditional-request validators (ETag / Last-Modified) per URL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base


class FeedState(Base):
    """What the last poll of one feed URL learned, so the next one can ask "changed since?"."""

    __tablename__ = "feed_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    modified: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None]
    last_result: Mapped[str] = mapped_column(Text, default="")

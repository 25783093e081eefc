"""A CSV list uploaded over the API and imported in the background: its file until the import
ran, then how far it got, what it did and which rows it could not take."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class ListImport(Base):
    """One upload: `queued`, `running`, then `done` or `failed` (with `error`)."""

    __tablename__ = "list_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    newsletter_id: Mapped[int] = mapped_column(
        ForeignKey("newsletters.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(32))
    consent: Mapped[str | None] = mapped_column(String(500))
    filename: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # the uploaded bytes, dropped once the import ended (they hold addresses)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(default=0)
    encoding: Mapped[str | None] = mapped_column(String(32))
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bad_rows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    bad_rows_total: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

"""Heartbeats of the background processes: one row per worker or beat, its last sign of life."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class Heartbeat(Base):
    """The last time the process `name` (a worker's hostname, `beat@host`) of `kind` (`worker`,
    `beat`) said it was alive; `started_at` is when it started."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)

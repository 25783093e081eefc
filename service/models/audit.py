"""The audit log: one row per operator action (who, what, when), never changed afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class AuditEvent(Base):
    """An operator action: `event` (a registered name) by `actor` via `via` (`api`: a key's
    name; `cli`: the OS user), on `target` (e.g. `send:12`), with a small `detail`."""

    __tablename__ = "audit_events"
    # One kind of event in a time range (the console's pending invitations) reads an index
    # range, not the whole log.
    __table_args__ = (Index("ix_audit_events_event_at", "event", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

"""Receipts of spooled signups: one row per signup the spool handed to the database.

A signup accepted while the database was away is spooled with a key of its own; replaying it
writes this receipt and its outbox job in one transaction, so a replay that is repeated (a
crash between the commit and the spool's acknowledgement) applies it once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class SpooledSignup(Base):
    """A spooled signup that reached the database (`key`: its spool key), and when."""

    __tablename__ = "spooled_signups"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    replayed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

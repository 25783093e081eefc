"""Admin API keys, stored only as a SHA-256 hash; the key itself is shown once on creation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow

ACTIVE = "revoked_at IS NULL"


class ApiKey(Base):
    """A named bearer key for the admin API, with the scopes it grants (space-separated)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        # One active key per name: `api-keys revoke NAME` means exactly one key.
        Index(
            "uq_api_keys_active_name",
            "name",
            unique=True,
            sqlite_where=text(ACTIVE),
            postgresql_where=text(ACTIVE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100), default="admin", server_default="admin")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

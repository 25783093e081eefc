"""Staff accounts: the publisher's people who sign in to the console, each with one role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, utcnow


class StaffMember(Base):
    """A person who runs the newsletters from the console.

    `password_hash` is an argon2 hash (never the password); `totp_secret` is set once they
    have enrolled a second factor, sealed (`service.sealed`: `sealed:v1:` and a Fernet token,
    never the secret in plain); `session_version` changes when the password changes or the
    account is disabled, which ends every session signed with the old one.
    """

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # SHA-256 hashes of the unused recovery codes (each works once, instead of a TOTP code).
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

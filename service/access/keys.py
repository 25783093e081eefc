"""Admin API keys: creation (shown once) and lookup of a presented key (via its hash only)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from service.extensions import db
from service.models import ApiKey

KEY_PREFIX = "nl_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(name: str) -> str:
    """Store a new key for `name` and return it; only its hash is kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(name=name, prefix=key[:10], key_hash=_hash(key)))
    db.session.commit()
    return key


def find_api_key(key: str) -> ApiKey | None:
    """The active key matching `key`, or None."""
    return db.session.scalar(
        select(ApiKey).where(ApiKey.key_hash == _hash(key), ApiKey.revoked_at.is_(None))
    )

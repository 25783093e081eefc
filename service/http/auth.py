"""Admin API keys: creation (shown once) and bearer-token checks (constant time via hashes)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, request
from sqlalchemy import select

from service.extensions import db
from service.models import ApiKey, utcnow

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


def require_api_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: 401 unless the request carries `Authorization: Bearer <active key>`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        api_key = find_api_key(key.strip()) if scheme.lower() == "bearer" and key else None
        if api_key is None:
            abort(401)
        api_key.last_used_at = utcnow()
        g.api_key = api_key
        return view(*args, **kwargs)

    return wrapper

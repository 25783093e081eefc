"""Admin API keys: created with scopes (the key shown once), listed, revoked, and checked.

Only a key's SHA-256 hash is kept. Scopes: `read` (look things up), `write` (change
newsletters, articles, readers; includes `read`), `send` (start and steer sends, test
digests; includes `read`) and `admin` (everything, and keys and the audit log).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import or_, select, update

from service import audit
from service.extensions import db
from service.models import ApiKey, utcnow

KEY_PREFIX = "nl_"
SCOPES = ("read", "write", "send", "admin")
DEFAULT_SCOPES = ("admin",)
# A held scope -> the scopes it satisfies.
GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "write"}),
    "send": frozenset({"read", "send"}),
    "admin": frozenset(SCOPES),
}
NAME_MAX = 100
_NAME = re.compile(r"[\w.@-]+(?: [\w.@-]+)*")
# `last_used_at` is written at most this often per key (not on every request).
LAST_USED_EVERY = timedelta(minutes=1)
KEY_CREATED = audit.event("api_key.created", "an operator created an API key")
KEY_REVOKED = audit.event("api_key.revoked", "an operator revoked an API key")


class KeyInvalid(ValueError):
    """A key's name or scopes cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class KeyNameTaken(ValueError):
    """An active key already has this name."""


class NoSuchKey(LookupError):
    """No active key has this name."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def clean_name(name: object) -> str:
    """A key's name: letters, digits, `.`, `@`, `-`, `_` and single inner spaces, 1-100 long."""
    if not isinstance(name, str) or not name:
        raise KeyInvalid("name", "A key needs a name.")
    if len(name) > NAME_MAX or not _NAME.fullmatch(name):
        raise KeyInvalid(
            "name",
            f"A key's name is 1-{NAME_MAX} letters, digits, '.', '@', '-', '_' or single "
            "spaces between them.",
        )
    return name


def clean_scopes(scopes: object) -> tuple[str, ...]:
    """Known scopes, at least one, each once, in the order of `SCOPES`; None: `admin`."""
    if scopes is None:
        return DEFAULT_SCOPES
    if isinstance(scopes, str) or not isinstance(scopes, Iterable):
        raise KeyInvalid("scopes", "scopes must be a list of: " + ", ".join(SCOPES) + ".")
    given = list(scopes)
    unknown = [s for s in given if s not in SCOPES]
    if unknown:
        shown = ", ".join(repr(s)[:40] for s in unknown[:5])
        raise KeyInvalid("scopes", f"Unknown scope {shown}; known: " + ", ".join(SCOPES) + ".")
    if not given:
        raise KeyInvalid("scopes", "Give at least one scope: " + ", ".join(SCOPES) + ".")
    return tuple(s for s in SCOPES if s in given)


def scopes_of(api_key: ApiKey) -> list[str]:
    """The scopes a key was given."""
    return api_key.scopes.split()


def grants(api_key: ApiKey, needed: str) -> bool:
    """True if `api_key` may do what needs scope `needed`."""
    return any(needed in GRANTS.get(held, ()) for held in scopes_of(api_key))


def _active(name: str) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))


def create_api_key(
    name: str, scopes: Iterable[str] | None = None, *, actor: audit.Actor | None = None
) -> str:
    """Store a new key `name` with `scopes` (default `admin`) and return it; only its hash is
    kept. Raises KeyInvalid, or KeyNameTaken while an active key has the name. An operator's
    key (`actor`) is in the audit log, with its scopes."""
    name = clean_name(name)
    chosen = clean_scopes(scopes)
    if _active(name) is not None:
        raise KeyNameTaken(f"An active key is named {name!r}; revoke it or choose another name.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(name=name, prefix=key[:10], key_hash=_hash(key), scopes=" ".join(chosen))
    db.session.add(api_key)
    audit.record(KEY_CREATED, actor, f"api_key:{name}", scopes=list(chosen))
    db.session.commit()
    return key


def list_api_keys(after_id: int = 0, limit: int | None = None) -> list[ApiKey]:
    """Active keys in the order they were made, after id `after_id` (keyset paging)."""
    query = (
        select(ApiKey)
        .where(ApiKey.revoked_at.is_(None), ApiKey.id > after_id)
        .order_by(ApiKey.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def revoke_api_key(name: str, *, actor: audit.Actor | None = None) -> ApiKey:
    """Revoke the active key `name` at once (its next request is a 401). Raises NoSuchKey.
    An operator's revocation (`actor`) is in the audit log."""
    api_key = _active(name) if isinstance(name, str) else None
    if api_key is None:
        raise NoSuchKey(f"No active key is named {str(name)[:100]!r}.")
    api_key.revoked_at = utcnow()
    audit.record(KEY_REVOKED, actor, f"api_key:{name}")
    db.session.commit()
    return api_key


def describe(api_key: ApiKey) -> dict:
    """A key as the API and the CLI list it: never the key, nor its hash."""
    return {
        "name": api_key.name,
        "prefix": api_key.prefix,
        "scopes": scopes_of(api_key),
        "created_at": api_key.created_at.isoformat(),
        "last_used_at": api_key.last_used_at.isoformat() if api_key.last_used_at else None,
    }


def find_api_key(key: str) -> ApiKey | None:
    """The active key matching `key`, or None."""
    return db.session.scalar(
        select(ApiKey).where(ApiKey.key_hash == _hash(key), ApiKey.revoked_at.is_(None))
    )


def note_use(api_key: ApiKey) -> None:
    """Record that `api_key` was just used, at most once a minute per key: one conditional
    UPDATE, committed at once, only when the stored time is older than that (or unset)."""
    now = utcnow()
    last = api_key.last_used_at
    if last is not None and now - last < LAST_USED_EVERY:
        return
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == api_key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

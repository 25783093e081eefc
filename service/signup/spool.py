"""Where a signup waits while the database is away: the spool's entries and its two stores.

An entry is one JSON line: `{"key": <32 hex>, "signup": <the outbox payload>}`; the key makes
its replay happen once (`service.signup.replay`). With `REDIS_URL` set the spool is a Redis
list every web process shares (`RedisSpool`); in the embedded layout it is an append-only,
fsync'd journal under `INSTANCE_PATH` (`service.signup.journal`). Either way the oldest
entries are read first and dropped only after the database has them, so an entry is
replayed in order and never lost; a store that cannot take an entry raises
`SpoolUnavailable`, and the reader is asked to try again (503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

REDIS_KEY = "newsletter:signup-spool:{database}"  # one spool per database
LOCK_SECONDS = 30
REDIS_TIMEOUT = 0.5


class SpoolUnavailable(RuntimeError):
    """The spool cannot hold a signup (Redis away, the journal not writable)."""


class BadEntry(ValueError):
    """A spool line that is not an entry (a write cut short by a crash)."""


def new_entry(signup: dict[str, Any]) -> dict[str, Any]:
    """A spool entry for the outbox payload `signup`, with a key of its own."""
    return {"key": uuid.uuid4().hex, "signup": signup}


def encode(entry: dict[str, Any]) -> bytes:
    """One line, newline-terminated: JSON with every non-ASCII character and control escaped."""
    return json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """The entry of a spool line; BadEntry if it is none."""
    try:
        entry = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEntry(f"not a JSON line: {exc}") from None
    key = entry.get("key") if isinstance(entry, dict) else None
    if not (isinstance(key, str) and len(key) == 32 and isinstance(entry.get("signup"), dict)):
        raise BadEntry("no key or no signup")
    return entry


class Store(Protocol):
    """What the replay needs of a spool: append, read the oldest, drop them, one replayer."""

    def append(self, line: bytes) -> None: ...

    def oldest(self, count: int) -> list[bytes]: ...

    def drop(self, count: int) -> None: ...

    def replaying(self) -> Any: ...


class RedisSpool:
    """The spool as a Redis list shared by every web process; one replayer at a time (a lock
    with an expiry, so a replayer that died frees it)."""

    def __init__(self, url: str, database_url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        self.key = REDIS_KEY.format(database=hashlib.sha256(database_url.encode()).hexdigest()[:16])
        self.lock = self.key + ":replaying"

    def append(self, line: bytes) -> None:
        """RPUSH: Redis keeps it once it answered (as durable as the broker's own messages)."""
        try:
            self.client.rpush(self.key, line)
        except redis.RedisError as exc:
            raise SpoolUnavailable(f"Redis: {exc}") from exc

    def oldest(self, count: int) -> list[bytes]:
        """The first `count` entries, oldest first, left in place."""
        return self.client.lrange(self.key, 0, count - 1)

    def drop(self, count: int) -> None:
        """Remove the first `count` entries (only the replayer removes; others only append)."""
        self.client.ltrim(self.key, count, -1)

    @contextmanager
    def replaying(self) -> Iterator[bool]:
        """True while this process holds the replayer's lock."""
        token = secrets.token_hex(8)
        held = bool(self.client.set(self.lock, token, nx=True, ex=LOCK_SECONDS))
        try:
            yield held
        finally:
            if held and self.client.get(self.lock) == token.encode():
                self.client.delete(self.lock)

    def renew(self) -> None:
        """Keep the replayer's lock while a long replay goes on."""
        self.client.expire(self.lock, LOCK_SECONDS)


def store_for(config: dict[str, Any]) -> Store:
    """The spool of this deployment: Redis with `REDIS_URL`, else the instance's journal."""
    if config.get("REDIS_URL"):
        return RedisSpool(config["REDIS_URL"], config["SQLALCHEMY_DATABASE_URI"])
    from service.signup.journal import JournalSpool

    return JournalSpool(config["INSTANCE_PATH"])

"""This process's copy of every newsletter's slug, id and origin allowlist.

Each signup needs the ids of the newsletters it names and, from a browser, their allowlists;
reading them per request costs more than the rest of a signup. The copy is re-read after
`COPY_SECONDS`, at once when a slug is missing from it (a newsletter created by another
process is never refused or let through on stale data), and dropped by `forget` when a
newsletter is created or changed through this process. Changes made elsewhere apply here
within `COPY_SECONDS`. While the database is away the last copy is used, however old (signups
are spooled meanwhile); a process that never read one raises the database's error.

Each allowlist is held as browsers send `Origin` (`service.web_origins`), whatever form an
older version of the service stored it in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import select

from service.database_away import is_away
from service.extensions import db
from service.models import Newsletter
from service.web_origins import normalize_origin

COPY_SECONDS = 10.0
# An archived newsletter takes no new readers: to a signup its slug is unknown.
_ALL = select(Newsletter.slug, Newsletter.id, Newsletter.allowed_origins).where(
    Newsletter.archived.is_(False)
)
_copies: dict[Any, tuple[float, dict[str, Entry]]] = {}


class Entry(NamedTuple):
    """What a signup needs of one newsletter."""

    id: int
    allowed_origins: frozenset[str]


def newsletters(slugs: Sequence[str] = ()) -> dict[str, Entry]:
    """Every newsletter by slug: this process's copy unless it is stale or lacks one of `slugs`."""
    database, now = db.engine.url, time.monotonic()
    copy = _copies.get(database)
    if copy and now - copy[0] < COPY_SECONDS and all(slug in copy[1] for slug in slugs):
        return copy[1]
    try:
        with db.engine.connect() as conn:
            entries = {
                slug: Entry(id_, frozenset(map(_as_sent, origins or ())))
                for slug, id_, origins in conn.execute(_ALL)
            }
    except Exception as exc:
        if copy is None or not is_away(exc):
            raise
        return copy[1]  # the database is away: the last copy beats no answer
    _copies[database] = (now, entries)
    return entries


def _as_sent(origin: str) -> str:
    try:
        return normalize_origin(origin)
    except ValueError:
        return origin  # matches no browser's Origin, as before


def forget() -> None:
    """Drop this process's copy (a newsletter was created or changed here)."""
    _copies.clear()

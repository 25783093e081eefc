"""The audit log of operator actions (sends started, paused, resumed, cancelled; keys created
or revoked; newsletters created or changed; readers erased), from the API and the CLI alike.

Each capability registers the names of its events once (`event`), and a second registration
of a name is refused. `record` adds the row to the session of the change, so it is committed
in the same transaction as the change itself, or not at all.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service.extensions import db
from service.models import AuditEvent

_EVENTS: dict[str, str] = {}
TARGET_MAX = 100


class DuplicateEvent(ValueError):
    """An audit event name registered twice."""


class UnknownEvent(KeyError):
    """An audit event name nobody registered."""


@dataclass(frozen=True)
class Actor:
    """Who acted: `via` is `api` (name: the API key's name) or `cli` (name: the OS user)."""

    via: str
    name: str


def event(name: str, description: str) -> str:
    """Register the audit event `name` (e.g. `send.paused`) and return it; a name registered
    before raises DuplicateEvent."""
    if name in _EVENTS:
        raise DuplicateEvent(f"audit event {name!r} is already registered")
    _EVENTS[name] = description
    return name


def registered() -> dict[str, str]:
    """Every registered event name and what it means."""
    return dict(_EVENTS)


def cli_actor() -> Actor:
    """The operator at a terminal: the OS user running the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = "unknown"
    return Actor("cli", user[:100])


def record(name: str, actor: Actor | None, target: str = "", **detail: Any) -> AuditEvent | None:
    """Add the event to the current session (committed with the change it describes). No
    actor: the service acting on its own (a pause after failures), not an operator; no row."""
    if name not in _EVENTS:
        raise UnknownEvent(name)
    if actor is None:
        return None
    row = AuditEvent(
        event=name, via=actor.via, actor=actor.name[:100], target=target[:TARGET_MAX], detail=detail
    )
    db.session.add(row)
    return row


_LISTED = (AuditEvent.id, AuditEvent.at, AuditEvent.event, AuditEvent.via, AuditEvent.actor,
           AuditEvent.target, AuditEvent.detail)  # fmt: skip


def events_before(before_id: int | None, limit: int) -> list[Any]:
    """Up to `limit` events, newest first, older than id `before_id` (keyset paging); rows of
    plain columns (no ORM object per row), with the attributes `describe` reads."""
    query = select(*_LISTED).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.execute(query))


def describe(row: Any) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "event": row.event,
        "via": row.via,
        "actor": row.actor,
        "target": row.target,
        "detail": row.detail,
    }

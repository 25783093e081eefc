"""Each newsletter's readers by subscription status, kept as exact counts (one row per newsletter
and status) in the transaction of every change, so the console and a new send read how many
readers a newsletter has from a few rows instead of counting its subscriptions.

The changes are seen where `service.daily` sees them and carried in its tally
(`daily.Tally.readers`): the bulk writers' moves (`Tally.move`) and every subscription row the
ORM writes (`Subscription`'s mapper events). A status move old -> new is -1 on old and +1 on
new, a new subscription +1 on its status, a deleted one (an expired pending signup purged, an
erasure) -1 on its status. `write` adds them with one `INSERT ... ON CONFLICT DO UPDATE` per row in key
order, after the daily rows, so concurrent transactions add up instead of overwriting and lock
rows in one order. A deleted newsletter's rows go with it (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import NewsletterReaderCount

_TABLE = NewsletterReaderCount.__table__

Key = tuple[int, str]  # newsletter id, subscription status


class ReaderMoves:
    """Changes of readers by (newsletter id, status) waiting to be written."""

    def __init__(self) -> None:
        self.rows: Counter[Key] = Counter()

    def move(self, newsletter_id: int, from_status: str | None, to_status: str | None) -> None:
        """Count one subscription moving from `from_status` (None: it is new) to `to_status`
        (None: it is deleted)."""
        if from_status == to_status:
            return
        if from_status is not None:
            self.rows[(newsletter_id, from_status)] -= 1
        if to_status is not None:
            self.rows[(newsletter_id, to_status)] += 1

    def merge(self, other: ReaderMoves) -> None:
        """Add another set of changes to this one."""
        self.rows.update(other.rows)

    def params(self) -> list[dict[str, Any]]:
        """One parameter set per row that changes, in key order (the order rows get locked)."""
        return [
            {"newsletter_id": key[0], "status": key[1], "readers": change}
            for key, change in sorted(self.rows.items())
            if change
        ]


def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.newsletter_id, _TABLE.c.status],
        set_={"readers": _TABLE.c.readers + statement.excluded.readers},
    )


def write(conn: Connection | Session, moves: ReaderMoves) -> None:
    """Add the changes to the counts, in the caller's transaction; empties them."""
    params = moves.params()
    moves.rows.clear()
    if not params:
        return
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    conn.execute(_upsert(bind.dialect.name), params)


def readers_by_status(session: Session, newsletter_id: int) -> dict[str, int]:
    """How many readers the newsletter has in each status (statuses with none left out): a
    read of the kept counts."""
    rows = session.execute(
        select(_TABLE.c.status, _TABLE.c.readers).where(
            _TABLE.c.newsletter_id == newsletter_id, _TABLE.c.readers != 0
        )
    )
    return dict(rows.all())

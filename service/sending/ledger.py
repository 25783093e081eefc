"""The delivery ledger: one row per (send, reader), committed as soon as the relay answers.

Writing the row is the only per-message database work: statements are built once and
executed with parameters, and on PostgreSQL the commit does not wait for the WAL flush
(`synchronous_commit = off` for that transaction only): a worker that dies loses nothing
committed, and a database crash could lose the last fraction of a second of rows, which
means a few duplicates, never a miss. The send's counters are tallied in memory and added
to the row every second (`flush`); `recount` sets them exactly from the ledger when the
send finishes, so a worker killed before its flush leaves no trace in the final figures.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from service.extensions import db
from service.models import Delivery, DeliveryStatus, Send, utcnow

COUNTERS = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.BOUNCED: "failed",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.SKIPPED: "skipped",
}
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


@cache
def _insert(dialect: str):
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(Delivery.__table__).on_conflict_do_nothing().returning(Delivery.id)


_UPDATE = (
    update(Delivery.__table__)
    .where(Delivery.__table__.c.id == bindparam("delivery_id"))
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        response=bindparam("response"),
        updated_at=bindparam("updated_at"),
    )
)


class Ledger:
    """Writes one send's delivery rows and tallies its counters."""

    def __init__(self, send_id: int) -> None:
        self.send_id = send_id
        self.dialect = db.engine.dialect.name
        self.pending: Counter[str] = Counter()
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        # A plain connection, held for the batch: much lighter than an ORM session per row.
        if self._conn is None:
            self._conn = db.engine.connect()
        return self._conn

    def close(self) -> None:
        """Flush the counters and return the connection to the pool."""
        self.flush()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def record(
        self,
        subscriber_id: int,
        status: DeliveryStatus,
        response: str,
        *,
        attempts: int,
        delivery_id: int | None = None,
    ) -> None:
        """Write (or update) the reader's row and commit at once."""
        conn = self._connection()
        if self.dialect == "postgresql":
            conn.execute(_ASYNC_COMMIT)
        values = {
            "status": status.value,
            "attempts": attempts,
            "response": response[:1000],
            "updated_at": utcnow(),
        }
        if delivery_id is None:
            values.update(send_id=self.send_id, subscriber_id=subscriber_id)
            fresh = conn.execute(_insert(self.dialect), values).first() is not None
        else:
            conn.execute(_UPDATE, {"delivery_id": delivery_id, **values})
            fresh = True
        conn.commit()
        if fresh and status in COUNTERS:
            self.pending[COUNTERS[status]] += 1

    def flush(self) -> None:
        """Add the tallied counters to the send's row."""
        if not self.pending:
            return
        values = {name: getattr(Send, name) + count for name, count in self.pending.items()}
        db.session.execute(update(Send).where(Send.id == self.send_id).values(**values))
        db.session.commit()
        self.pending.clear()


def recount(send_id: int) -> None:
    """Set the send's counters from its ledger (exact, whatever workers died on the way)."""
    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.send_id == send_id)
        .group_by(Delivery.status)
    ).all()
    totals: Counter[str] = Counter()
    for status, count in rows:
        if status in COUNTERS:
            totals[COUNTERS[status]] += count
    db.session.execute(
        update(Send)
        .where(Send.id == send_id)
        .values(sent=totals["sent"], failed=totals["failed"], skipped=totals["skipped"])
    )
    db.session.commit()

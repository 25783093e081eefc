"""The delivery ledger: one row per (send, reader), written in groups as the relay answers.

Answers are buffered (`add`) and written by `write`: every answer that came back so far in
ONE executemany and ONE commit (group commit). The batch writes before it lets more
messages go out than its in-flight window allows (see `delivery`), so the accepted but
unwritten messages plus those in flight never exceed that window: a worker killed mid-batch
re-sends at most the window, never more. On PostgreSQL the commit does not wait for the
WAL flush (`synchronous_commit = off` on its connection): a worker that dies loses
nothing committed, and a database crash could lose the last fraction of a second of rows,
which means a few duplicates, never a miss (set once per batch on the ledger's connection
and reset before it goes back to the pool). The send's counters are tallied in memory and
added to the row every second (`flush`); `recount` sets them exactly from the ledger when
the send finishes, so a worker killed before its flush leaves no trace in the final figures.
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
_ASYNC_COMMIT = text("SET synchronous_commit TO OFF")
_SYNC_COMMIT = text("RESET synchronous_commit")


@cache
def _insert(dialect: str, returning: bool):
    module = postgresql if dialect == "postgresql" else sqlite
    table = Delivery.__table__
    statement = module.insert(table).on_conflict_do_nothing()
    return statement.returning(table.c.status) if returning else statement


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
    """Writes one send's delivery rows in groups and tallies its counters."""

    def __init__(self, send_id: int) -> None:
        self.send_id = send_id
        self.dialect = db.engine.dialect.name
        self.pending: Counter[str] = Counter()
        self._conn: Connection | None = None
        self._inserts: list[dict] = []
        self._updates: list[dict] = []

    def _connection(self) -> Connection:
        # A plain connection, held for the batch: much lighter than an ORM session per row.
        # On PostgreSQL its commits stop waiting for the WAL flush for as long as the batch
        # holds it (one SET per batch, not one per commit); `close` restores the default.
        if self._conn is None:
            self._conn = db.engine.connect()
            if self.dialect == "postgresql":
                self._conn.execute(_ASYNC_COMMIT)
                self._conn.commit()
        return self._conn

    def close(self) -> None:
        """Write what is buffered, flush the counters and return the connection to the pool."""
        try:
            self.flush()
        finally:
            conn, self._conn = self._conn, None
            if conn is not None:
                _release(conn, self.dialect)

    @property
    def unwritten(self) -> int:
        """Answers added but not yet written."""
        return len(self._inserts) + len(self._updates)

    def add(
        self,
        subscriber_id: int,
        status: DeliveryStatus,
        response: str,
        *,
        attempts: int,
        delivery_id: int | None = None,
    ) -> None:
        """Buffer the reader's row (a new one, or an update of `delivery_id`) for `write`."""
        values = {
            "status": status.value,
            "attempts": attempts,
            "response": response[:1000],
            "updated_at": utcnow(),
        }
        if delivery_id is None:
            self._inserts.append(
                {"send_id": self.send_id, "subscriber_id": subscriber_id, **values}
            )
        else:
            self._updates.append({"delivery_id": delivery_id, **values})

    def write(self) -> None:
        """Write every buffered row in one transaction (one statement per kind of row)."""
        if not self.unwritten:
            return
        conn = self._connection()
        written = self._insert(conn) if self._inserts else Counter()
        if self._updates:
            conn.execute(_UPDATE, self._updates)
            written.update(row["status"] for row in self._updates)
        conn.commit()
        self._inserts, self._updates = [], []
        for status, count in written.items():
            if status in COUNTERS:
                self.pending[COUNTERS[status]] += count

    def _insert(self, conn: Connection) -> Counter[str]:
        """Insert the new rows; count those really inserted (not already there), by status.

        SQLite's executemany sums its row counts, the cheapest way; psycopg's does not, so
        PostgreSQL returns the inserted rows' statuses instead.
        """
        if self.dialect != "sqlite":
            statement = _insert(self.dialect, returning=True)
            return Counter(conn.execute(statement, self._inserts).scalars())
        groups: dict[str, list[dict]] = {}
        for row in self._inserts:
            groups.setdefault(row["status"], []).append(row)
        statement = _insert(self.dialect, returning=False)
        return Counter(
            {status: conn.execute(statement, rows).rowcount for status, rows in groups.items()}
        )

    def flush(self) -> None:
        """Write the buffered rows, then add the tallied counters to the send's row."""
        self.write()
        if not self.pending:
            return
        values = {name: getattr(Send, name) + count for name, count in self.pending.items()}
        db.session.execute(update(Send).where(Send.id == self.send_id).values(**values))
        db.session.commit()
        self.pending.clear()


def _release(conn: Connection, dialect: str) -> None:
    """Back to the pool with the default commit behaviour (or discarded if that fails)."""
    try:
        if dialect == "postgresql":
            conn.rollback()
            conn.execute(_SYNC_COMMIT)
            conn.commit()
    except Exception:
        conn.invalidate()
        raise
    finally:
        conn.close()


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

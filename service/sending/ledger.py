"""The delivery ledger: one row per (send, reader), written in groups as the relay answers.

Answers are buffered (`add`) and written by `write`: every answer that came back so far in
ONE executemany and ONE commit (group commit). The batch writes before it lets more
messages go out than its in-flight window allows (see `delivery`), so the accepted but
unwritten messages plus those in flight never exceed that window: a worker killed mid-batch
re-sends at most the window, never more.

The send's counters (`sent`, `failed`, `skipped`) are added to in the SAME transaction as
the rows they count, by exactly the rows that transaction really inserted or moved out of
`queued`: every committed state has counters equal to the ledger, so what the API and
`sends show` read is the ledger's figure, whatever runs, stops or is cancelled meanwhile.
`books.recount` sets them from the ledger again (under the send row's lock) as a last check.

A connection the database server dropped (a restart, `pg_terminate_backend`) costs one
retry on a fresh connection: the buffered answers stay buffered until a commit took them.
A database that cannot be reached at all (refusing connections, restarting) is waited for,
up to `DATABASE_WAIT_SECONDS`, polling every half second at most: the batch hands nothing
over meanwhile (its loop is blocked in the write), keeps every answer it has, and writes
them the moment the database is back, so an outage costs no duplicate and resumes at once.
On PostgreSQL the commit does not wait for the WAL flush (`synchronous_commit = off` on its
connection): a worker that dies loses nothing committed, and a database crash could lose
the last fraction of a second of rows, which means a few duplicates, never a miss (set once
per connection and reset before it goes back to the pool).

Possible duplicates: before a batch hands a message over, a write has noted on its row how
far it may get before its next write (`mark_handing_over`: one more statement in the same
commit as the rows). A later claim of the batch (its worker died, or lost the database)
flags the readers up to that mark without a row, and the rows it writes for those it sends
again carry `possible_duplicate` and add to the send's `possible_duplicates`, so the send
counts the readers who may have received it twice; at most a window per fault. Should two
claims of a batch run at once after all (one cut off past its lease, still sending), a
reader whose row the other wrote first while this one delivered to them too is flagged then
(`_flag_twice`, PostgreSQL: its insert says which rows it did not insert).

The update of the counters returns the send's status, so a batch at full speed learns of a
pause or a cancel at its next write, a few messages later, without a query of its own
(`send_status`).
"""

from __future__ import annotations

import time
from collections import Counter
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from service import metrics
from service.database import is_dropped, is_unreachable, wait_until_reachable
from service.extensions import db
from service.models import Delivery, DeliveryStatus, Send, utcnow

if TYPE_CHECKING:  # lease.py reads the ledger
    from service.sending.lease import Lease

DATABASE_WAIT_SECONDS = 120.0  # a write waits this long for the database, then fails
DUPLICATE = "possible_duplicate"  # counted beside the statuses: a row flagged as one
COUNTERS = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.BOUNCED: "failed",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.SKIPPED: "skipped",
    DUPLICATE: "possible_duplicates",
}
_ASYNC_COMMIT = text("SET synchronous_commit TO OFF")
_SYNC_COMMIT = text("RESET synchronous_commit")
_MARK = text(
    "UPDATE send_batches SET handing_over_upto = :upto"
    " WHERE id = :batch_id AND handing_over_upto < :upto"
)
_SETTLE = text(
    "UPDATE send_batches SET handing_over_upto = :upto"
    " WHERE id = :batch_id AND attempts = :token AND status = 'running'"
)


@cache
def _insert(dialect: str, returning: bool):
    module = postgresql if dialect == "postgresql" else sqlite
    table = Delivery.__table__
    statement = module.insert(table).on_conflict_do_nothing()
    if returning:
        return statement.returning(
            table.c.subscriber_id, table.c.status, table.c.possible_duplicate
        )
    return statement


def _update(row: dict):
    """Move one `queued` row on (a row another worker finished already is left alone)."""
    table = Delivery.__table__
    return (
        update(table)
        .where(table.c.id == row["delivery_id"], table.c.status == DeliveryStatus.QUEUED)
        .values(
            status=row["status"],
            attempts=row["attempts"],
            response=row["response"],
            updated_at=row["updated_at"],
        )
    )


def add_to_counters(conn: Connection, send_id: int, statuses: Counter[str]) -> str | None:
    """Add ledger rows, counted by status, to the send's counters (in `conn`'s transaction).

    Returns the send's status as that update saw it (None if there was nothing to add).
    """
    values: Counter[str] = Counter()
    for status, count in statuses.items():
        if status in COUNTERS and count:
            values[COUNTERS[status]] += count
    if not values:
        return None
    return conn.execute(
        update(Send)
        .where(Send.id == send_id)
        .values({name: getattr(Send, name) + count for name, count in values.items()})
        .returning(Send.status)
    ).scalar()


def _flag_twice(conn: Connection, send_id: int, rows: list[dict], inserted: set[int]) -> int:
    """Readers this batch may have delivered to although another claim of the batch had
    already written their row (the two ran at once: one was cut off past its lease) may
    have two copies: their row is flagged (once); how many were."""
    again = [
        row["subscriber_id"]
        for row in rows
        if row["subscriber_id"] not in inserted
        and (row["status"] == DeliveryStatus.SENT.value or row["possible_duplicate"])
    ]
    if not again:
        return 0
    table = Delivery.__table__
    return conn.execute(
        update(table)
        .where(
            table.c.send_id == send_id,
            table.c.subscriber_id.in_(again),
            table.c.possible_duplicate.is_(False),
        )
        .values(possible_duplicate=True)
    ).rowcount


class Ledger:
    """Writes one send's delivery rows in groups, with the counters in the same commit."""

    def __init__(self, send_id: int) -> None:
        self.send_id = send_id
        self.dialect = db.engine.dialect.name
        self._conn: Connection | None = None
        self._inserts: list[dict] = []
        self._updates: list[dict] = []
        self._status: str | None = None  # the send's status, as the last write saw it
        self._status_at = 0.0  # when (time.monotonic)
        self._mark: tuple[str, dict] | None = None  # the batch's mark, for the next write
        self.recovered = False  # a write waited for the database (the caller re-checks its lease)

    def _connection(self) -> Connection:
        # A plain connection, held for the batch: much lighter than an ORM session per row.
        # On PostgreSQL its commits stop waiting for the WAL flush for as long as the batch
        # holds it (one SET per connection, not one per commit); `close` restores the default.
        if self._conn is None:
            self._conn = db.engine.connect()
            if self.dialect == "postgresql":
                self._conn.execute(_ASYNC_COMMIT)
                self._conn.commit()
        return self._conn

    def close(self) -> None:
        """Write what is buffered and return the connection to the pool."""
        try:
            self.write()
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
        possible_duplicate: bool = False,
    ) -> None:
        """Buffer the reader's row (a new one, or an update of `delivery_id`) for `write`.

        `possible_duplicate`: the reader was sent the message again after a fault may have
        cut off the record of an earlier hand-over (see `mark_handing_over`).
        """
        values = {
            "status": status.value,
            "attempts": attempts,
            "response": response[:1000],
            "updated_at": utcnow(),
        }
        if delivery_id is None:
            self._inserts.append(
                {
                    "send_id": self.send_id,
                    "subscriber_id": subscriber_id,
                    "possible_duplicate": possible_duplicate,
                    **values,
                }
            )
        else:
            self._updates.append({"delivery_id": delivery_id, **values})

    def mark_handing_over(self, lease: Lease, upto: int, *, settle: bool = False) -> None:
        """With the next write, note on the batch that readers up to id `upto` may be handed
        over before the write after it: should that one never come (a fault), the batch's
        next claim knows which readers may already have the message. The mark only rises,
        unless `settle` (every hand-over so far is in this write: it may come down, while
        this claim still holds the batch)."""
        values = {"batch_id": lease.batch_id, "upto": upto, "token": lease.token}
        self._mark = ("settle" if settle else "raise", values)

    def write(self) -> None:
        """Write every buffered row and its counters in one transaction.

        A connection the server dropped is replaced; a database that cannot be reached is
        waited for (`DATABASE_WAIT_SECONDS`). The rows stay buffered until a commit took
        them, so an accepted message is never forgotten (nor sent again).
        """
        if not self.unwritten and self._mark is None:
            return
        self._reaching(self._write)
        self._inserts, self._updates, self._mark = [], [], None

    def _reaching(self, work):
        """Run `work` on the ledger's connection; on a dropped one once more on a fresh one,
        and while the database cannot be reached, again each time it answers (up to
        `DATABASE_WAIT_SECONDS`; then the error propagates)."""
        deadline = None
        while True:
            try:
                return work()
            except DBAPIError as error:
                if not (is_dropped(error) or is_unreachable(error)):
                    raise
                self._discard()
                if deadline is None:
                    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
                    if is_dropped(error):
                        continue  # a dropped connection: a fresh one at once
                self.recovered = True
                if not wait_until_reachable(db.engine, deadline - time.monotonic()):
                    raise

    def _write(self) -> None:
        conn = self._connection()
        try:
            written = self._insert(conn) if self._inserts else Counter()
            for row in self._updates:  # rare (retries after a 4xx): one statement each
                if conn.execute(_update(row)).rowcount == 1:
                    written[row["status"]] += 1
            status = add_to_counters(conn, self.send_id, written)
            if self._mark is not None:
                kind, values = self._mark
                conn.execute(_SETTLE if kind == "settle" else _MARK, values)
            conn.commit()
            metrics.delivered(written)  # the ledger's rows, counted once they are committed
            if status is not None:
                self._status, self._status_at = status, time.monotonic()
        except BaseException:
            if not conn.invalidated:
                conn.rollback()
            raise

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()
            conn.close()

    def _insert(self, conn: Connection) -> Counter[str]:
        """Insert the new rows; count those really inserted (not already there), by status.

        SQLite's executemany sums its row counts, the cheapest way; psycopg's does not, so
        PostgreSQL returns the inserted rows' statuses instead.
        """
        written: Counter[str] = Counter()
        if self.dialect != "sqlite":
            statement = _insert(self.dialect, returning=True)
            inserted = set()
            for subscriber_id, status, duplicate in conn.execute(statement, self._inserts):
                inserted.add(subscriber_id)
                written[status] += 1
                written[DUPLICATE] += duplicate
            written[DUPLICATE] += _flag_twice(conn, self.send_id, self._inserts, inserted)
            return written
        groups: dict[tuple[str, bool], list[dict]] = {}
        for row in self._inserts:
            groups.setdefault((row["status"], row["possible_duplicate"]), []).append(row)
        statement = _insert(self.dialect, returning=False)
        for (status, duplicate), rows in groups.items():
            count = conn.execute(statement, rows).rowcount
            written[status] += count
            written[DUPLICATE] += count if duplicate else 0
        return written

    def flush(self) -> None:
        """Write the buffered rows now (the counters go with them)."""
        self.write()

    def send_status(self, max_age: float) -> str:
        """The send's status, read again if the last write saw it more than `max_age` s ago.

        Every write that adds to the counters reads the status in the same statement, so at
        full speed this costs nothing; a slow batch reads it here, on its own connection.
        """
        if self._status is None or time.monotonic() - self._status_at > max_age:
            status = self._reaching(self._read_status)
            self._status, self._status_at = status, time.monotonic()
        return self._status

    def _read_status(self) -> str:
        conn = self._connection()
        try:
            status = conn.scalar(select(Send.status).where(Send.id == self.send_id))
            conn.commit()
        except BaseException:
            if not conn.invalidated:
                conn.rollback()
            raise
        return status


def _release(conn: Connection, dialect: str) -> None:
    """Back to the pool with the default commit behaviour (or discarded if that fails)."""
    try:
        if dialect == "postgresql" and not conn.invalidated:
            conn.rollback()
            conn.execute(_SYNC_COMMIT)
            conn.commit()
    except Exception:
        conn.invalidate()
        raise
    finally:
        conn.close()

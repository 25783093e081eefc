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
`recount` sets them from the ledger again (under the send row's lock) as a last check.

A connection the database server dropped (a restart, `pg_terminate_backend`) costs one
retry on a fresh connection: the buffered answers stay buffered until a commit took them.
On PostgreSQL the commit does not wait for the WAL flush (`synchronous_commit = off` on its
connection): a worker that dies loses nothing committed, and a database crash could lose
the last fraction of a second of rows, which means a few duplicates, never a miss (set once
per connection and reset before it goes back to the pool).

The update of the counters returns the send's status, so a batch at full speed learns of a
pause or a cancel at its next write, a few messages later, without a query of its own
(`send_status`).
"""

from __future__ import annotations

import time
from collections import Counter
from functools import cache

from sqlalchemy import Connection, DateTime, and_, exists, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from service.database import is_dropped
from service.extensions import db, insert_ignoring_conflicts
from service.models import (
    Delivery,
    DeliveryStatus,
    Send,
    Subscription,
    SubscriptionStatus,
    utcnow,
)

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
        """Write every buffered row and its counters in one transaction.

        A connection the server dropped is replaced once; the rows stay buffered until
        a commit took them, so an accepted message is never forgotten (nor sent again).
        """
        if not self.unwritten:
            return
        try:
            self._write()
        except DBAPIError as error:
            if not is_dropped(error):
                raise
            self._discard()
            self._write()  # on a fresh connection; a second failure propagates
        self._inserts, self._updates = [], []

    def _write(self) -> None:
        conn = self._connection()
        try:
            written = self._insert(conn) if self._inserts else Counter()
            for row in self._updates:  # rare (retries after a 4xx): one statement each
                if conn.execute(_update(row)).rowcount == 1:
                    written[row["status"]] += 1
            status = add_to_counters(conn, self.send_id, written)
            conn.commit()
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
        """Write the buffered rows now (the counters go with them)."""
        self.write()

    def send_status(self, max_age: float) -> str:
        """The send's status, read again if the last write saw it more than `max_age` s ago.

        Every write that adds to the counters reads the status in the same statement, so at
        full speed this costs nothing; a slow batch reads it here, on its own connection.
        """
        if self._status is None or time.monotonic() - self._status_at > max_age:
            conn = self._connection()
            try:
                status = conn.scalar(select(Send.status).where(Send.id == self.send_id))
                conn.commit()
            except BaseException:
                if not conn.invalidated:
                    conn.rollback()
                raise
            self._status, self._status_at = status, time.monotonic()
        return self._status


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


def counted(status: DeliveryStatus | str):
    """How many of the send's ledger rows have `status` (a correlated subquery)."""
    return (
        select(func.count())
        .where(Delivery.send_id == Send.id, Delivery.status == status)
        .scalar_subquery()
    )


def recount(send_id: int) -> None:
    """Set the send's counters from its ledger, exactly, even while batches still write.

    The send row is locked first (PostgreSQL: FOR UPDATE; SQLite serializes writers), so
    a ledger commit is either wholly counted here or adds its rows after this one.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Send.id).where(Send.id == send_id).with_for_update())
    db.session.execute(
        update(Send)
        .where(Send.id == send_id)
        .values(
            sent=counted(DeliveryStatus.SENT),
            failed=counted(DeliveryStatus.BOUNCED) + counted(DeliveryStatus.FAILED),
            skipped=counted(DeliveryStatus.SKIPPED),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def close_unreached(
    send_id: int, after_id: int, upto_id: int, status: DeliveryStatus, reason: str
) -> int:
    """Readers of the send in (after_id, upto_id] who got nothing end as `status` (failed or
    skipped); return how many had no ledger row yet.

    Still-queued rows (deferred) move to `status` (a failure keeps the relay's last answer,
    a skip says `reason`); confirmed readers in the range without a row get one saying
    `reason`. The send's counter goes up by as many, in the caller's transaction (the
    session's).
    """
    in_range = and_(Delivery.subscriber_id > after_id, Delivery.subscriber_id <= upto_id)
    moved = {"status": status, "updated_at": utcnow()}
    if status != DeliveryStatus.FAILED:
        moved["response"] = reason[:1000]
    deferred = db.session.execute(
        update(Delivery)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.QUEUED, in_range)
        .values(**moved)
        .execution_options(synchronize_session=False)
    ).rowcount
    newsletter_id = select(Send.newsletter_id).where(Send.id == send_id).scalar_subquery()
    unreached = select(
        literal(send_id),
        Subscription.subscriber_id,
        literal(status.value),
        literal(0),
        literal(reason[:1000]),
        literal(utcnow(), DateTime()),
    ).where(
        Subscription.newsletter_id == newsletter_id,
        Subscription.status == SubscriptionStatus.CONFIRMED,
        Subscription.subscriber_id > after_id,
        Subscription.subscriber_id <= upto_id,
        ~exists().where(
            Delivery.send_id == send_id, Delivery.subscriber_id == Subscription.subscriber_id
        ),
    )
    columns = ["send_id", "subscriber_id", "status", "attempts", "response", "updated_at"]
    added = db.session.execute(
        insert_ignoring_conflicts(Delivery).from_select(columns, unreached)
    ).rowcount
    if deferred + added:  # in the same commit as the rows, like the ledger's own counters
        counter = COUNTERS[status]
        db.session.execute(
            update(Send)
            .where(Send.id == send_id)
            .values({counter: getattr(Send, counter) + deferred + added})
        )
    return added


def defer_reason(send_id: int) -> str | None:
    """Why the send's deferred readers wait: the relay's last answer (or the connection
    error) recorded on a still-queued delivery; None if none is queued."""
    return db.session.scalar(
        select(Delivery.response)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(Delivery.updated_at.desc())
        .limit(1)
    )

"""Each newsletter's daily figures (signups, confirmations, unsubscribes, bounces, complaints,
erasures, net growth of confirmed readers), kept as one row per newsletter and UTC day and
updated in the transaction of the change itself, never by a scan.

Every status change is counted by what it is (`classify`):

- a change made through the ORM (`Subscription.move_to`) is seen at flush, from the
  `SubscriptionEvent` it adds: nothing to call (and for the readers by status, from the
  subscription's row itself: made, status changed, deleted);
- bulk Core writes (signups applied by the worker, CSV imports) call `tally_moves` /
  `Tally.move` with the moves they wrote, and `write` the tally on their connection;
- a subscription deleted through the ORM (an expired pending signup purged, an erasure) is
  seen as its row is deleted, at flush too (readers only);
- anything else that is not a status change (a bounce that changes no status) calls
  `record(newsletter_id, day, bounces=1)`; an erasure calls `erased`. A complaint is the
  unsubscribe `service.deliverability` records with the cause `complaint`: a complaint,
  not an unsubscribe.

Counts made on the ORM session are held in the session and written just before it commits,
one upsert per (newsletter, day) in key order (INSERT ... ON CONFLICT DO UPDATE adding to the
row, on SQLite and PostgreSQL), so concurrent transactions add up instead of overwriting and
always lock the rows in one order (no deadlock). A rollback drops them with the change.

The same tally carries each newsletter's readers by status (`Tally.readers`, written after the
daily rows by `service.reader_counts`): every bulk move (`Tally.move`) moves a reader there
too, and every subscription row the ORM writes is seen by its mapper events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service import reader_counts
from service.models import NewsletterDay, Subscription, SubscriptionEvent, SubscriptionStatus
from service.models.daily import COUNTS

PENDING, CONFIRMED = SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED
UNSUBSCRIBED, BOUNCED = SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED
_ACTIVE = {PENDING, CONFIRMED}
EXPIRED = "expired"  # a pending signup never confirmed, purged: not a reader leaving
COMPLAINT = "complaint"  # the cause service.deliverability gives a complaint's unsubscribe
_TABLE = NewsletterDay.__table__
_SESSION_KEY = "newsletter_days"


def classify(from_status: str | None, to_status: str, cause: str = "") -> Counter[str]:
    """The counts one status change adds: a signup is a move from nothing (or from having
    left) to pending or confirmed; `net` is the change in confirmed readers."""
    counts: Counter[str] = Counter()
    if to_status in _ACTIVE and from_status not in _ACTIVE:
        counts["signups"] += 1
    if to_status == CONFIRMED and from_status != CONFIRMED:
        counts["confirmations"] += 1
        counts["net"] += 1
    if from_status == CONFIRMED and to_status != CONFIRMED:
        counts["net"] -= 1
    if to_status == UNSUBSCRIBED and from_status in _ACTIVE and cause == COMPLAINT:
        counts["complaints"] += 1  # a reader who reported the newsletter as spam, and left
    elif to_status == UNSUBSCRIBED and from_status in _ACTIVE and cause != EXPIRED:
        counts["unsubscribes"] += 1
    if to_status == BOUNCED and from_status != BOUNCED:
        counts["bounces"] += 1
    return counts


def day_of(when: datetime | None) -> date:
    """The UTC day a change belongs to (now if not known)."""
    if when is None:
        return datetime.now(UTC).date()
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()


class Tally:
    """Counts waiting to be written, by (newsletter id, day), and the moves of readers between
    statuses they come from (`readers`)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, date], Counter[str]] = {}
        self.readers = reader_counts.ReaderMoves()

    def add(self, newsletter_id: int, day: date, **counts: int) -> None:
        """Add `counts` (names from `COUNTS`) to one newsletter's day."""
        unknown = set(counts) - set(COUNTS)
        if unknown:
            raise ValueError(f"not a daily count: {', '.join(sorted(unknown))}")
        row = self.rows.setdefault((newsletter_id, day), Counter())
        row.update(counts)

    def move(self, newsletter_id: int, day: date, from_status: str | None, to_status: str,
             cause: str = "") -> None:  # fmt: skip
        """Count one status change (`from_status` None: a new subscription)."""
        self.add(newsletter_id, day, **classify(from_status, to_status, cause))
        self.readers.move(newsletter_id, from_status, to_status)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        for (newsletter_id, day), counts in other.rows.items():
            self.add(newsletter_id, day, **counts)
        self.readers.merge(other.readers)

    def pending(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self.rows) or any(self.readers.rows.values())

    def params(self) -> list[dict[str, Any]]:
        """One parameter set per row with a count, in key order (the order rows get locked)."""
        return [
            {"newsletter_id": key[0], "day": key[1], **{n: counts.get(n, 0) for n in COUNTS}}
            for key, counts in sorted(self.rows.items())
            if any(counts.values())
        ]


def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.newsletter_id, _TABLE.c.day],
        set_={name: _TABLE.c[name] + statement.excluded[name] for name in COUNTS},
    )


def write(conn: Connection | Session, tally: Tally) -> None:
    """Add the tally to the daily rows, then to the readers by status, in the caller's
    transaction; empties it."""
    params = tally.params()
    tally.rows.clear()
    if params:
        bind = conn.get_bind() if isinstance(conn, Session) else conn
        conn.execute(_upsert(bind.dialect.name), params)
    reader_counts.write(conn, tally.readers)


def tally_moves(tally: Tally, newsletter_id: int, moves: Iterable[str | None], to_status: str,
                when: datetime, cause: str = "") -> None:  # fmt: skip
    """Count bulk moves of one newsletter's subscriptions (their previous statuses) to
    `to_status`, as a bulk writer that bypasses the ORM wrote them."""
    day = day_of(when)
    for previous in moves:
        tally.move(newsletter_id, day, previous, to_status, cause)


def session_tally(session: Session) -> Tally:
    """The counts the session will write when it commits."""
    tally = session.info.get(_SESSION_KEY)
    if tally is None:
        tally = session.info[_SESSION_KEY] = Tally()
    return tally


def record(newsletter_id: int, day: date | None = None, *, session: Session | None = None,
           **counts: int) -> None:  # fmt: skip
    """Add `counts` (e.g. `bounces=1`, `complaints=1`) to a newsletter's day (today in UTC by
    default), written with the current transaction of the app's session. For figures that are
    not a status change: a status change through `Subscription.move_to` is counted already."""
    if session is None:
        from service.extensions import db

        session = db.session()
    session_tally(session).add(newsletter_id, day or day_of(None), **counts)


def erased(session: Session, subscriptions: Iterable[tuple[int, str]]) -> None:
    """Count an erasure: the reader's subscriptions (newsletter id, status) are deleted today."""
    tally, today = session_tally(session), day_of(None)
    for newsletter_id, status in subscriptions:
        tally.add(newsletter_id, today, erasures=1, net=-1 if status == CONFIRMED else 0)


def _readers(row: Subscription) -> reader_counts.ReaderMoves | None:
    session = inspect(row).session
    return session_tally(session).readers if session is not None else None


@event.listens_for(Subscription, "after_insert")
def _count_inserted(_mapper: Any, _conn: Connection, row: Subscription) -> None:
    """A subscription the ORM makes is a reader in its status."""
    readers = _readers(row)
    if readers is not None:
        readers.move(row.newsletter_id, None, row.status)


@event.listens_for(Subscription, "after_update")
def _count_moved(_mapper: Any, _conn: Connection, row: Subscription) -> None:
    """A status the ORM changes (`Subscription.move_to`, or any other write of `status`,
    whose old value is always loaded: `active_history`) moves a reader."""
    history = inspect(row).attrs.status.history
    readers = _readers(row)
    if readers is not None and history.added and history.deleted:
        readers.move(row.newsletter_id, history.deleted[0], history.added[0])


@event.listens_for(Subscription, "before_delete")
def _count_deleted(_mapper: Any, conn: Connection, row: Subscription) -> None:
    """A subscription the ORM deletes (a purged signup, its orphan; an erasure, by cascade)
    is a reader gone from its status (no daily move: an erasure is counted by `erased`)."""
    state = inspect(row)
    newsletter_id, status = state.dict.get("newsletter_id"), state.dict.get("status")
    if newsletter_id is None or status is None:  # not loaded: read while the row is there
        table = Subscription.__table__
        newsletter_id, status = conn.execute(
            select(table.c.newsletter_id, table.c.status).where(table.c.id == row.id)
        ).one()
    readers = _readers(row)
    if readers is not None:
        readers.move(newsletter_id, status, None)


@event.listens_for(Session, "after_flush")
def _count_new_events(session: Session, _context: Any) -> None:
    """Count the status changes the ORM just wrote (`Subscription.move_to`) in the daily
    figures (its readers were moved with its row); after the flush, so a subscription made in
    the same flush has its newsletter id."""
    for row in session.new:
        if isinstance(row, SubscriptionEvent) and row.subscription is not None:
            counts = classify(row.from_status, row.to_status, row.cause)
            session_tally(session).add(
                row.subscription.newsletter_id, day_of(row.created_at), **counts
            )


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    """Write the session's counts as the last statements of its transaction."""
    session.flush()  # the last changes' events are counted at this flush
    tally = session.info.get(_SESSION_KEY)
    if tally is not None and tally.pending():
        write(session, tally)


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    """Counts of a change rolled back are dropped with it."""
    session.info.pop(_SESSION_KEY, None)


MAX_DAYS = 366
DEFAULT_DAYS = 30


class BadRange(ValueError):
    """`from` or `to` cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _date(field: str, value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise BadRange(field, f"{field} must be a date, YYYY-MM-DD.") from None


def date_range(start: str | None, end: str | None) -> tuple[date, date]:
    """The days asked for (`from`, `to`, both included): by default the 30 days up to today
    (UTC); at most 366 days, `from` not after `to`. BadRange else."""
    last = _date("to", end, day_of(None))
    first = _date("from", start, last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise BadRange("from", "from must not be after to.")
    if (last - first).days >= MAX_DAYS:
        raise BadRange("from", f"at most {MAX_DAYS} days at a time.")
    return first, last


def series(session: Session, newsletter_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """Every day from `first` to `last`, oldest first, with its counts (zeros on a day with no
    change): a read of the stored rows, never a count of the readers."""
    table = _TABLE
    rows = session.execute(
        select(table).where(
            table.c.newsletter_id == newsletter_id, table.c.day >= first, table.c.day <= last
        )
    ).mappings()
    stored = {row["day"]: row for row in rows}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = stored.get(day)
        days.append({"date": day.isoformat(), **{n: row[n] if row else 0 for n in COUNTS}})
    return days

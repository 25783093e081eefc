"""Counting signups and confirmations by page, in the transaction of the change (as
`service.daily` counts the newsletter's day), never by a scan of the consent records.

- A **signup** is a pending subscription made by a signup form (the worker applying signups,
  `service.signup.apply`): a new subscription, or one the reader had left, made pending again.
  It counts under the page of that signup's `source_url` (`service.sources.pages`), and the
  subscription keeps the page (`Subscription.signup_page`). A signup of a reader already
  pending or confirmed makes nothing and counts nothing. Imports and the preference page are
  no page's: the newsletter's daily figures count them, these do not.
- A **confirmation** is a move from pending to confirmed of a subscription a signup form made
  pending: it counts, on the day it happens, under the page of the consent record of the last
  signup that made it pending (the page the subscription kept; a pending restored by an undo
  keeps it). The reader's click
  (`Subscription.move_to`, seen at flush as `service.daily` sees it) and a confirmed import of
  pending readers (`confirmed`) count alike; a subscription no form made pending counts none.

The counts of a transaction are written as its last statements, after the daily figures, one
`INSERT ... ON CONFLICT DO UPDATE` per (newsletter, day, page) in key order, so concurrent
changes add up and lock rows in one order. Hostile clients cannot grow the table without
bound: besides `other` and `direct`, one newsletter's day names at most `PAGES_PER_DAY` pages;
a count for a further page goes to `other` (two transactions adding pages at once may each
take the last places, so a day may hold a few more).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.daily import day_of
from service.models import NewsletterSourceDay, SubscriptionEvent, SubscriptionStatus
from service.sources.pages import DIRECT, OTHER

COUNTS = ("signups", "confirmations")
PAGES_PER_DAY = 500  # named pages one newsletter's day may hold (besides `other`, `direct`)
_TABLE = NewsletterSourceDay.__table__
_SESSION_KEY = "newsletter_source_days"
PENDING, CONFIRMED = SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED

Key = tuple[int, date, str]  # newsletter id, UTC day, page


class PageTally:
    """Counts waiting to be written, by (newsletter id, day, page)."""

    def __init__(self) -> None:
        self.rows: dict[Key, Counter[str]] = {}

    def add(self, newsletter_id: int, day: date, page: str, **counts: int) -> None:
        """Add `counts` (`signups`, `confirmations`) to one newsletter's day on `page`."""
        unknown = set(counts) - set(COUNTS)
        if unknown:
            raise ValueError(f"not a page count: {', '.join(sorted(unknown))}")
        self.rows.setdefault((newsletter_id, day, page), Counter()).update(counts)

    def signup(self, newsletter_id: int, when: datetime, page: str) -> None:
        """Count a pending subscription made by a signup form on `page`."""
        self.add(newsletter_id, day_of(when), page, signups=1)

    def merge(self, other: PageTally) -> None:
        """Add another tally's counts to this one."""
        for (newsletter_id, day, page), counts in other.rows.items():
            self.add(newsletter_id, day, page, **counts)


def _upsert(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.newsletter_id, _TABLE.c.day, _TABLE.c.page],
        set_={name: _TABLE.c[name] + statement.excluded[name] for name in COUNTS},
    )


def _bounded(conn: Connection | Session, rows: dict[Key, Counter[str]]) -> dict[Key, Counter]:
    """The rows with the pages a day has no room for counted under `other` instead: a page
    the day holds already keeps its row; new pages take the free places in key order."""
    bounded: dict[Key, Counter[str]] = {}
    for (newsletter_id, day), group in groupby(sorted(rows.items()), key=lambda r: r[0][:2]):
        entries = list(group)
        named = [key[2] for key, _ in entries if key[2] not in (OTHER, DIRECT)]
        held: set[str] = set()
        room = PAGES_PER_DAY
        if named:
            here = (_TABLE.c.newsletter_id == newsletter_id, _TABLE.c.day == day)
            held = set(conn.scalars(select(_TABLE.c.page).where(*here, _TABLE.c.page.in_(named))))
            room -= conn.scalar(select(func.count()).select_from(_TABLE).where(*here)) or 0
        for (_, _, page), counts in entries:
            if page not in (OTHER, DIRECT) and page not in held:
                if room > 0:
                    room -= 1
                    held.add(page)
                else:
                    page = OTHER
            bounded.setdefault((newsletter_id, day, page), Counter()).update(counts)
    return bounded


def write(conn: Connection | Session, tally: PageTally) -> None:
    """Add the tally to the page rows, in the caller's transaction; empties it."""
    rows = {key: counts for key, counts in tally.rows.items() if any(counts.values())}
    tally.rows.clear()
    if not rows:
        return
    params = [
        {"newsletter_id": key[0], "day": key[1], "page": key[2],
         **{name: counts.get(name, 0) for name in COUNTS}}
        for key, counts in sorted(_bounded(conn, rows).items())
    ]  # fmt: skip
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    conn.execute(_upsert(bind.dialect.name), params)


def session_tally(session: Session) -> PageTally:
    """The page counts the session will write when it commits."""
    tally = session.info.get(_SESSION_KEY)
    if tally is None:
        tally = session.info[_SESSION_KEY] = PageTally()
    return tally


def confirmed(session: Session, newsletter_id: int, pages: Iterable[str | None],
              when: datetime) -> None:  # fmt: skip
    """Count pending subscriptions of one newsletter confirmed in bulk (their `signup_page`s;
    None for one no signup form made pending), written when the session commits."""
    tally, day = session_tally(session), day_of(when)
    for page in pages:
        if page is not None:
            tally.add(newsletter_id, day, page, confirmations=1)


@event.listens_for(Session, "after_flush")
def _count_confirmations(session: Session, _context: Any) -> None:
    """Count the confirmations the ORM just wrote (`Subscription.move_to`)."""
    for row in session.new:
        if (
            isinstance(row, SubscriptionEvent)
            and row.from_status == PENDING
            and row.to_status == CONFIRMED
            and row.subscription is not None
            and row.subscription.signup_page is not None
        ):
            session_tally(session).add(
                row.subscription.newsletter_id,
                day_of(row.created_at),
                row.subscription.signup_page,
                confirmations=1,
            )


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    """Write the session's page counts as the last statements of its transaction (after the
    daily figures, whose listener was registered first: `service.daily` is imported above)."""
    session.flush()
    tally = session.info.get(_SESSION_KEY)
    if tally is not None and tally.rows:
        write(session, tally)


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    """Counts of a change rolled back are dropped with it."""
    session.info.pop(_SESSION_KEY, None)

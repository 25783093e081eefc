"""A newsletter's top pages over its last days: signups, confirmations and the confirmation rate
of each page, most signups first. A read of the page rows (`service.sources.tally`), never a
count of the readers or their consent records; the admin API, the console's dashboard and
`newsletter stats --sources` all show this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.daily import day_of
from service.models import NewsletterSourceDay
from service.sources.pages import kind_of

DEFAULT_DAYS, MAX_DAYS = 30, 366
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
_TABLE = NewsletterSourceDay.__table__


@dataclass(frozen=True)
class PageFigures:
    """One page's counts over the days asked for. `confirmations` are those made in these days
    by readers who signed up on the page (some perhaps before the first day), so the rate,
    confirmations per signup, may pass 1 for a page whose signups were mostly earlier."""

    page: str
    kind: str  # `page`, `other` or `direct`
    signups: int
    confirmations: int

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmations per signup (None without a signup)."""
        return round(self.confirmations / self.signups, 4) if self.signups else None


@dataclass(frozen=True)
class TopPages:
    """The top pages of one newsletter from `first` to `last` (UTC days, both included), and
    the totals of every page."""

    first: date
    last: date
    pages: list[PageFigures]
    totals: PageFigures


def top_pages(
    session: Session,
    newsletter_id: int,
    days: int = DEFAULT_DAYS,
    limit: int = DEFAULT_LIMIT,
    today: date | None = None,
) -> TopPages:
    """The `limit` pages with the most signups over the `days` UTC days up to `today` (ties:
    more confirmations first, then by page). ValueError for a `days` or `limit` out of bounds."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
    last = today or day_of(None)
    first = last - timedelta(days=days - 1)
    where = (_TABLE.c.newsletter_id == newsletter_id, _TABLE.c.day >= first, _TABLE.c.day <= last)
    signups = func.sum(_TABLE.c.signups)
    confirmations = func.sum(_TABLE.c.confirmations)
    rows = session.execute(
        select(_TABLE.c.page, signups, confirmations)
        .where(*where)
        .group_by(_TABLE.c.page)
        .order_by(signups.desc(), confirmations.desc(), _TABLE.c.page)
        .limit(limit)
    ).all()
    total = session.execute(select(signups, confirmations).where(*where)).one()
    return TopPages(
        first,
        last,
        [PageFigures(page, kind_of(page), int(s or 0), int(c or 0)) for page, s, c in rows],
        PageFigures("", "total", int(total[0] or 0), int(total[1] or 0)),
    )

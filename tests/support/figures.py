"""What the kept figures say against a full count of what is on record: the readers by status
(`service.reader_counts`) against every subscription, and a newsletter's daily figures
(`service.daily`) against every status change still on record, classified again."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from service import daily
from service.extensions import db
from service.models import NewsletterDay, NewsletterReaderCount, Subscription, SubscriptionEvent
from service.models.daily import COUNTS


def kept_readers() -> Counter[tuple[int, str]]:
    """The kept counts of readers by (newsletter id, status), every newsletter's, zeros left out."""
    rows = db.session.scalars(select(NewsletterReaderCount))
    return Counter({(r.newsletter_id, r.status): r.readers for r in rows if r.readers})


def counted_readers() -> Counter[tuple[int, str]]:
    """The full count: every subscription, grouped by newsletter and status."""
    rows = db.session.execute(
        select(Subscription.newsletter_id, Subscription.status, func.count()).group_by(
            Subscription.newsletter_id, Subscription.status
        )
    )
    return Counter({(newsletter_id, status): n for newsletter_id, status, n in rows})


def stored_days(newsletter_id: int) -> Counter[str]:
    """A newsletter's daily figures, summed over its days, zeros left out."""
    rows = db.session.scalars(
        select(NewsletterDay).where(NewsletterDay.newsletter_id == newsletter_id)
    )
    total: Counter[str] = Counter()
    for row in rows:
        total.update({name: getattr(row, name) for name in COUNTS})
    return Counter({k: v for k, v in total.items() if v})


def recounted_days(newsletter_id: int) -> Counter[str]:
    """The full count: every status change still on record, classified again."""
    events = db.session.execute(
        select(SubscriptionEvent.from_status, SubscriptionEvent.to_status, SubscriptionEvent.cause)
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .where(Subscription.newsletter_id == newsletter_id)
    )
    total: Counter[str] = Counter()
    for from_status, to_status, cause in events:
        total.update(daily.classify(from_status, to_status, cause))
    return Counter({k: v for k, v in total.items() if v})


def confirmed_readers(newsletter_id: int) -> int:
    """How many readers the newsletter has confirmed, counted."""
    return db.session.scalar(
        select(func.count()).where(
            Subscription.newsletter_id == newsletter_id, Subscription.status == "confirmed"
        )
    )

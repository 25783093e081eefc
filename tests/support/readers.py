"""Readers written straight to the database, as a signup or an import would have left them."""

from __future__ import annotations

from sqlalchemy import select

from service.extensions import db
from service.models import Newsletter, Subscriber, Subscription, SubscriptionStatus, utcnow
from tests.conftest import unique_email


def add_reader(
    *newsletters: Newsletter,
    status: str = SubscriptionStatus.CONFIRMED,
    email: str | None = None,
    name: str | None = None,
    locale: str = "en",
) -> Subscriber:
    """Commit a reader subscribed to each of `newsletters` in `status` (a fresh address unless
    `email` is given; the address is stored as is, unchecked, like an old import's)."""
    email = email or unique_email()
    subscriber = Subscriber(
        email=email, email_ascii=email, email_key=email.lower(), name=name, locale=locale
    )
    confirmed_at = utcnow() if status == SubscriptionStatus.CONFIRMED else None
    subscriber.subscriptions = [
        Subscription(newsletter=newsletter, status=status, confirmed_at=confirmed_at)
        for newsletter in newsletters
    ]
    db.session.add(subscriber)
    db.session.commit()
    return subscriber


def statuses(subscriber_id: int) -> dict[str, str]:
    """Slug -> status for one reader, read fresh from the database."""
    db.session.expire_all()
    rows = db.session.scalars(
        select(Subscription).where(Subscription.subscriber_id == subscriber_id)
    )
    return {s.newsletter.slug: s.status for s in rows}

"""Unconfirmed signups do not linger: beat drops those older than `PENDING_EXPIRY_DAYS`."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from service.extensions import db
from service.models import Subscription, SubscriptionStatus, utcnow


def pending_expiry_days() -> int:
    """Days an unconfirmed signup is kept (`PENDING_EXPIRY_DAYS`, default 30)."""
    return int(current_app.config["PENDING_EXPIRY_DAYS"])


def purge_expired_pending(days: int | None = None) -> int:
    """Drop signups left pending longer than `days`; return how many subscriptions expired.

    A subscription that was never confirmed is deleted; one that had been confirmed before (a
    re-signup after leaving) goes back to `unsubscribed`. A reader left with no subscription
    at all is deleted with their consent records: nothing is kept about someone who never
    confirmed.
    """
    cutoff = utcnow() - timedelta(days=pending_expiry_days() if days is None else days)
    expired = db.session.scalars(
        select(Subscription).where(
            Subscription.status == SubscriptionStatus.PENDING, Subscription.updated_at < cutoff
        )
    ).all()
    touched = set()
    for subscription in expired:
        touched.add(subscription.subscriber)
        if subscription.confirmed_at is None:
            subscription.subscriber.subscriptions.remove(subscription)
        else:
            subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, "expired")
    db.session.flush()
    for subscriber in touched:
        if not subscriber.subscriptions:
            db.session.delete(subscriber)
    db.session.commit()
    return len(expired)

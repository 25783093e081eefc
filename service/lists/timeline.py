"""A reader's timeline, as the console shows it: the changes of their subscriptions (signup,
confirmation, unsubscribes, preference changes, bounces), their consent records (form, IP, user
agent) and the send ledger's deliveries to them, newest first in keyset pages, with the consent
state of each subscription (confirmed when, from which import's consent source).

The three kinds live in three tables; a page takes the next rows of each below the cursor
(time, kind, id) and merges them, so rows added or deleted between pages neither skip nor
repeat the others.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from service.extensions import db
from service.models import (
    ConsentRecord,
    Delivery,
    Newsletter,
    Send,
    Subscriber,
    Subscription,
    SubscriptionEvent,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The order of kinds within one instant (higher first in the newest-first order).
KINDS = {"delivery": 2, "subscription": 1, "consent": 0}
Position = tuple[int, int, int]  # microseconds since the epoch, kind rank, row id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def _below(column: Any, id_column: Any, rank: int, before: Position | None) -> Any:
    """The SQL condition for rows of kind `rank` that come after `before` (newest first)."""
    if before is None:
        return True
    micros, before_rank, before_id = before
    when = EPOCH + timedelta(microseconds=micros)
    if rank < before_rank:
        return column <= when
    if rank > before_rank:
        return column < when
    return or_(column < when, and_(column == when, id_column < before_id))


def _events(subscriber: Subscriber, before: Position | None, limit: int) -> list[tuple]:
    rank = KINDS["subscription"]
    rows = db.session.execute(
        select(SubscriptionEvent, Subscription.newsletter_id)
        .join(Subscription, Subscription.id == SubscriptionEvent.subscription_id)
        .where(Subscription.subscriber_id == subscriber.id)
        .where(_below(SubscriptionEvent.created_at, SubscriptionEvent.id, rank, before))
        .order_by(SubscriptionEvent.created_at.desc(), SubscriptionEvent.id.desc())
        .limit(limit)
    )
    slugs = {s.newsletter_id: s.newsletter.slug for s in subscriber.subscriptions}
    return [
        (
            (_micros(event.created_at), rank, event.id),
            {
                "kind": "subscription",
                "at": _iso(event.created_at),
                "newsletter": slugs.get(newsletter_id),
                "from_status": event.from_status,
                "to_status": event.to_status,
                "cause": event.cause,
            },
        )
        for event, newsletter_id in rows
    ]


def _consents(subscriber: Subscriber, before: Position | None, limit: int) -> list[tuple]:
    rank = KINDS["consent"]
    rows = db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subscriber_id == subscriber.id)
        .where(_below(ConsentRecord.created_at, ConsentRecord.id, rank, before))
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
        .limit(limit)
    )
    return [
        (
            (_micros(record.created_at), rank, record.id),
            {
                "kind": "consent",
                "at": _iso(record.created_at),
                "action": record.action,
                "newsletters": [slug for slug in record.newsletters.split(",") if slug],
                "form": record.form,
                "source_url": record.source_url,
                "ip": record.ip,
                "user_agent": record.user_agent,
            },
        )
        for record in rows
    ]


def _deliveries(subscriber: Subscriber, before: Position | None, limit: int) -> list[tuple]:
    rank = KINDS["delivery"]
    rows = db.session.execute(
        select(Delivery, Send.subject, Newsletter.slug)
        .join(Send, Send.id == Delivery.send_id)
        .join(Newsletter, Newsletter.id == Send.newsletter_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .where(_below(Delivery.updated_at, Delivery.id, rank, before))
        .order_by(Delivery.updated_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    return [
        (
            (_micros(delivery.updated_at), rank, delivery.id),
            {
                "kind": "delivery",
                "at": _iso(delivery.updated_at),
                "newsletter": slug,
                "send_id": delivery.send_id,
                "subject": subject,
                "status": delivery.status,
                "attempts": delivery.attempts,
            },
        )
        for delivery, subject, slug in rows
    ]


def consent_state(subscriber: Subscriber) -> list[dict[str, Any]]:
    """Each subscription's standing and the consent behind it (`consent_source`: where an
    import's consent came from; None when the reader confirmed by the emailed link)."""
    return [
        {
            "newsletter": s.newsletter.slug,
            "status": s.status,
            "subscribed_at": _iso(s.created_at),
            "confirmed_at": _iso(s.confirmed_at),
            "unsubscribed_at": _iso(s.unsubscribed_at),
            "consent_source": s.consent_source,
        }
        for s in subscriber.subscriptions
    ]


def timeline_page(
    subscriber: Subscriber, before: Position | None, limit: int
) -> list[tuple[Position, dict[str, Any]]]:
    """Up to `limit` entries (each with its position, the cursor after it) newest first, all
    after `before` (None: from the newest)."""
    merged = [
        *_events(subscriber, before, limit),
        *_consents(subscriber, before, limit),
        *_deliveries(subscriber, before, limit),
    ]
    merged.sort(key=lambda entry: entry[0], reverse=True)
    return merged[:limit]

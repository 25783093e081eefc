"""Subscribers as ops handle them: personal-data export, erasure, and the CSV export.

Erasure deletes every row about a reader and keeps only the SHA-256 of the address key in the
suppression list. The import is `service.lists.imports`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, select

from service import audit, daily, outbox
from service.extensions import db, insert_ignoring_conflicts
from service.leaving.suppression import suppression_hash
from service.models import (
    ConsentRecord,
    Delivery,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
    utcnow,
)
from service.task_names import TaskName
from service.webhooks import events

IMPORT_BATCH = 500
READER_ERASED = audit.event("reader.erased", "an operator erased a reader's personal data")
NAME_MAX = 200
EXPORT_COLUMNS = [
    "email",
    "name",
    "status",
    "locale",
    "subscribed_at",
    "confirmed_at",
    "consent_source",
]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_subscriber(subscriber: Subscriber) -> dict[str, Any]:
    """All personal data held about a reader: profile, subscriptions, events, consent, deliveries."""
    subscription_ids = [s.id for s in subscriber.subscriptions]
    events = db.session.scalars(
        select(SubscriptionEvent)
        .where(SubscriptionEvent.subscription_id.in_(subscription_ids))
        .order_by(SubscriptionEvent.id)
    )
    consents = db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subscriber_id == subscriber.id)
        .order_by(ConsentRecord.id)
    )
    deliveries = db.session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
    )
    slugs = {s.id: s.newsletter.slug for s in subscriber.subscriptions}
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "email_ascii": subscriber.email_ascii,
        "name": subscriber.name,
        "locale": subscriber.locale,
        "created_at": _iso(subscriber.created_at),
        "updated_at": _iso(subscriber.updated_at),
        "last_confirmation_sent_at": _iso(subscriber.last_confirmation_sent_at),
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
                "consent_source": s.consent_source,
            }
            for s in subscriber.subscriptions
        ],
        "events": [
            {
                "newsletter": slugs.get(e.subscription_id),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "cause": e.cause,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
        "consent_records": [
            {
                "action": c.action,
                "newsletters": [slug for slug in c.newsletters.split(",") if slug],
                "ip": c.ip,
                "user_agent": c.user_agent,
                "source_url": c.source_url,
                "form": c.form,
                "created_at": _iso(c.created_at),
            }
            for c in consents
        ],
        "deliveries": [
            {"send_id": d.send_id, "status": d.status, "updated_at": _iso(d.updated_at)}
            for d in deliveries
        ],
    }


def erase_subscriber(subscriber: Subscriber, *, actor: audit.Actor | None = None) -> str:
    """Delete everything about a reader; keep only the address hash as an `erased` suppression.

    An existing suppression (a bounce, a manual block) is kept as it is, since it is stronger.
    An operator's erasure (`actor`) is in the audit log by the reader's id only. Returns the
    hash that stays.
    """
    email_hash = suppression_hash(subscriber.email_key)
    subscriber_id = subscriber.id
    subscription_ids = [s.id for s in subscriber.subscriptions]
    daily.erased(db.session(), [(s.newsletter_id, s.status) for s in subscriber.subscriptions])
    if subscription_ids:
        db.session.execute(
            delete(SubscriptionEvent).where(SubscriptionEvent.subscription_id.in_(subscription_ids))
        )
    db.session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id))
    db.session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    outbox.forget(TaskName.APPLY_SIGNUPS, "email_key", subscriber.email_key)
    outbox.forget(TaskName.SEND_MANAGE_LINK, "email_key", subscriber.email_key)
    events.forget_reader(subscriber.id)  # nothing queued about them goes out any more
    events.emit(events.SUBSCRIBER_ERASED, {"subscriber_id": subscriber.id})
    db.session.delete(subscriber)
    db.session.execute(
        insert_ignoring_conflicts(Suppression).values(
            email_hash=email_hash, reason="erased", detail="", created_at=utcnow()
        )
    )
    audit.record(READER_ERASED, actor, f"subscriber:{subscriber_id}")
    db.session.commit()
    return email_hash


def export_rows(newsletter: Newsletter, status: str | None = None) -> Iterator[list[str]]:
    """The CSV rows (header first) of a newsletter's subscribers, streamed in id order."""
    yield EXPORT_COLUMNS
    query = (
        select(Subscriber, Subscription)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.newsletter_id == newsletter.id)
        .order_by(Subscriber.id)
        .execution_options(yield_per=1000)
    )
    if status:
        query = query.where(Subscription.status == status)
    for subscriber, subscription in db.session.execute(query):
        yield [
            subscriber.email,
            subscriber.name or "",
            subscription.status,
            subscriber.locale,
            _iso(subscription.created_at) or "",
            _iso(subscription.confirmed_at) or "",
            subscription.consent_source or "",
        ]

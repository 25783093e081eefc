"""What a feedback event's class does to its reader, in the caller's transaction.

- hard: every subscription still pending or confirmed becomes `bounced`, the address is
  suppressed (`bounce`), `subscriber.bounced` is announced;
- soft: counted; the address's soft bounces inside `SOFT_BOUNCE_WINDOW_DAYS` reaching
  `SOFT_BOUNCE_LIMIT` act as a hard bounce (two bounces of one send count once: a
  possible duplicate's second copy is not a second bounce);
- complaint: the reader leaves every newsletter (cause `complaint`), the address is
  suppressed (`complaint`), `subscriber.unsubscribed` and `subscriber.complained` go out;
- policy (5.7.x, about the sender) and unknown: nothing happens to the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from service.deliverability import classify
from service.deliverability.readers import Found
from service.extensions import db
from service.leaving import suppression
from service.models import FeedbackRecord, Subscriber, SubscriptionStatus
from service.webhooks import events

ACTIVE = (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
SUPPRESSED, UNSUBSCRIBED, COUNTED, NONE = "suppressed", "unsubscribed", "counted", "none"


@dataclass
class Done:
    """What was done to the reader, and the newsletters they left."""

    action: str
    newsletters: list[str] = field(default_factory=list)


def act(
    bounce_class: str,
    found: Found,
    event_id: int,
    occurred: datetime,
    diagnostic: str,
    code: str,
) -> Done:
    """Apply `bounce_class` to the reader `found` (see the module doc); the caller commits."""
    if found.email_key is None:
        return Done(NONE)
    if bounce_class == classify.HARD:
        done = _bounce(found, f"{code} {diagnostic}".strip(), code)
    elif bounce_class == classify.SOFT:
        limit = int(current_app.config["SOFT_BOUNCE_LIMIT"])
        days = float(current_app.config["SOFT_BOUNCE_WINDOW_DAYS"])
        seen = soft_bounces(found.email_hash, occurred - timedelta(days=days), occurred)
        if limit and seen >= limit:
            detail = f"{seen} soft bounces in {days:g} days; last: {code} {diagnostic}"
            done = _bounce(found, detail.strip(), code)
        else:
            done = Done(COUNTED)
    elif bounce_class == classify.COMPLAINT:
        done = _complaint(found)
    else:
        return Done(NONE)
    # The newsletters' daily figures count these moves themselves (`service.daily`, at flush):
    # a hard bounce as `bounces`, a complaint's unsubscribe as `complaints`.
    return done


def soft_bounces(email_hash: str, since: datetime, until: datetime) -> int:
    """An address's soft bounces in [since, until]; those of one send count once."""
    rows = db.session.execute(
        select(FeedbackRecord.send_id, FeedbackRecord.id).where(
            FeedbackRecord.email_hash == email_hash,
            FeedbackRecord.bounce_class == classify.SOFT,
            FeedbackRecord.occurred_at >= since,
            FeedbackRecord.occurred_at <= until,
        )
    ).all()
    return len({("send", s) if s is not None else ("event", i) for s, i in rows})


def _subscriber(found: Found) -> Subscriber | None:
    return db.session.get(Subscriber, found.subscriber_id) if found.subscriber_id else None


def _bounce(found: Found, detail: str, code: str) -> Done:
    subscriber = _subscriber(found)
    left: list[str] = []
    if subscriber is not None:
        for subscription in subscriber.subscriptions:
            if subscription.status in ACTIVE:
                subscription.move_to(SubscriptionStatus.BOUNCED, suppression.BOUNCE)
                left.append(subscription.newsletter.slug)
        _announce(events.SUBSCRIBER_BOUNCED, subscriber, left, found, code)
    suppression.add(found.email_key or "", suppression.BOUNCE, detail[:1000])
    return Done(SUPPRESSED, left)


def _complaint(found: Found) -> Done:
    subscriber = _subscriber(found)
    left: list[str] = []
    if subscriber is not None:
        for subscription in subscriber.subscriptions:
            if subscription.status in ACTIVE:
                subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, suppression.COMPLAINT)
                left.append(subscription.newsletter.slug)
        if left:
            subscriber.state_version += 1
        events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, subscriber, left, suppression.COMPLAINT)
        _announce(events.SUBSCRIBER_COMPLAINED, subscriber, left, found, "")
    suppression.add(found.email_key or "", suppression.COMPLAINT, "a reader's complaint")
    return Done(UNSUBSCRIBED, left)


def _announce(
    event_type: str, subscriber: Subscriber, left: list[str], found: Found, code: str
) -> None:
    """`subscriber.bounced` / `subscriber.complained`: the reader, the newsletters they left,
    the send it was about and the status code (nothing of the remote server's text)."""
    data = {
        "subscriber_id": subscriber.id,
        "email": subscriber.email,
        "newsletters": left,
        "send_id": found.send_id,
    }
    if code:
        data["status_code"] = code
    events.emit(event_type, data, subscriber_id=subscriber.id)

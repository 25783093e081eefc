"""Status changes a reader makes: unsubscribe, unsubscribe from everything, undo, preferences.

Plain functions on the database session. Every change is recorded with its cause
(`Subscription.move_to`), and bumps the reader's `state_version`, so an older confirmation
link cannot be replayed. Unsubscribing from everything also suppresses the address. A link
that arrived by email lowers subscriptions at once; a newsletter the reader never confirmed is
only asked for (pending, with a confirmation email).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from service import metrics, outbox, reader_mail
from service.extensions import db
from service.leaving import suppression
from service.leaving.suppression import HARD_REASONS, UNSUBSCRIBE_ALL
from service.models import (
    ConsentRecord,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    utcnow,
)
from service.task_names import TaskName
from service.webhooks import events

ACTIVE = (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)


def _subscription(subscriber_id: int, newsletter_id: int) -> Subscription | None:
    return db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.newsletter_id == newsletter_id,
        )
    )


def unsubscribe(subscriber_id: int, newsletter_id: int, cause: str) -> bool:
    """Unsubscribe a reader from one newsletter at once; True if anything changed."""
    subscription = _subscription(subscriber_id, newsletter_id)
    changed = subscription is not None and subscription.status in ACTIVE
    slugs = [subscription.newsletter.slug] if changed else []
    if changed:
        subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, cause)
        subscription.subscriber.state_version += 1
        events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, subscription.subscriber, slugs, cause)
    db.session.commit()
    metrics.unsubscribed(cause, slugs)
    return changed


def unsubscribe_all(subscriber_id: int, cause: str = UNSUBSCRIBE_ALL) -> int:
    """Unsubscribe a reader from every newsletter and suppress the address; return how many."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    changed = 0
    left = []
    for subscription in subscriber.subscriptions:
        if subscription.status in ACTIVE:
            changed += subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, cause)
            left.append(subscription.newsletter.slug)
    events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, subscriber, left, cause)
    subscriber.state_version += 1
    suppression.add(subscriber.email_key, UNSUBSCRIBE_ALL, f"subscriber {subscriber.id}")
    db.session.commit()
    metrics.unsubscribed(cause, left)
    return changed


def resubscribe(subscriber_id: int, newsletter_id: int | None, cause: str = "undo") -> int:
    """Undo a mistaken unsubscribe: restore what the last unsubscribe changed; return how many.

    With `newsletter_id` None, undo an unsubscribe-from-everything (and lift its suppression).
    Only subscriptions whose latest event is still that unsubscribe are restored, to the status
    they had before it.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    if newsletter_id is None:
        candidates = list(subscriber.subscriptions)
        wanted_cause = UNSUBSCRIBE_ALL
    else:
        candidates = [s for s in subscriber.subscriptions if s.newsletter_id == newsletter_id]
        wanted_cause = None
    restored = 0
    for subscription in candidates:
        last = _last_event(subscription.id)
        if (
            last is None
            or last.to_status != SubscriptionStatus.UNSUBSCRIBED
            or subscription.status != SubscriptionStatus.UNSUBSCRIBED
            or (wanted_cause and last.cause != wanted_cause)
            or last.from_status not in ACTIVE
        ):
            continue
        restored += subscription.move_to(last.from_status, cause)
    if newsletter_id is None:
        suppression.remove(subscriber.email_key, {UNSUBSCRIBE_ALL})
    if restored:
        subscriber.state_version += 1
    db.session.commit()
    return restored


def _last_event(subscription_id: int) -> SubscriptionEvent | None:
    return db.session.scalar(
        select(SubscriptionEvent)
        .where(SubscriptionEvent.subscription_id == subscription_id)
        .order_by(SubscriptionEvent.id.desc())
        .limit(1)
    )


def save_preferences(
    subscriber_id: int,
    wanted: Iterable[int],
    cause: str = "preferences",
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int:
    """Keep the reader on exactly the newsletters `wanted` (ids) among those of their preference
    page (`preference_newsletters`); return how many changed. An archived newsletter can only be
    left there: wanting it changes nothing.

    The preference link arrived by email, and such links travel (headers, forwards, scanners):
    whoever holds one may leave newsletters and choose again among those the reader confirmed
    once, which come back at once (an unsubscribe-from-everything suppression is lifted). A
    newsletter the reader never confirmed becomes pending, and a confirmation email goes out
    first (at most one per cooldown, `service.reader_mail`). A manual block or a hard bounce is
    never lifted here.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return 0
    wanted_ids = set(wanted)
    blocked = suppression.reason(subscriber.email_key) in HARD_REASONS
    by_newsletter = {s.newsletter_id: s for s in subscriber.subscriptions}
    changed = 0
    added, confirmed, left = [], [], []
    awaiting = False
    for newsletter in preference_newsletters(subscriber):
        subscription = by_newsletter.get(newsletter.id)
        if newsletter.archived and newsletter.id in wanted_ids:
            continue  # kept as it is: an archived newsletter is never joined again
        if newsletter.id in wanted_ids and not blocked:
            if subscription is None:
                subscription = Subscription(newsletter=newsletter, status=None)
                subscriber.subscriptions.append(subscription)
            if subscription.status == SubscriptionStatus.CONFIRMED:
                continue
            # Confirmed once (by the reader's own click): back at once; never: ask first.
            again = subscription.confirmed_at is not None
            status = SubscriptionStatus.CONFIRMED if again else SubscriptionStatus.PENDING
            if subscription.move_to(status, cause):
                changed += 1
                added.append(newsletter.slug)
                if again:
                    confirmed.append(newsletter.slug)
            awaiting = awaiting or not again
        elif subscription is not None and subscription.status in ACTIVE:
            changed += subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, cause)
            left.append(newsletter.slug)
    events.reader_event(events.SUBSCRIBER_CONFIRMED, subscriber, confirmed, cause)
    events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, subscriber, left, cause)
    if added:  # the consent record's proof for newsletters chosen on the preference page
        db.session.add(
            ConsentRecord(
                subscriber=subscriber,
                action="preferences",
                newsletters=",".join(added),
                ip=ip,
                user_agent=(user_agent or "")[:400] or None,
                form="preferences-link",
            )
        )
    if changed:
        subscriber.state_version += 1
    if wanted_ids and not blocked:
        suppression.remove(subscriber.email_key, {UNSUBSCRIBE_ALL})
    if awaiting and reader_mail.claim(
        db.session, subscriber.id, reader_mail.CONFIRMATION, utcnow()
    ):
        outbox.enqueue(TaskName.SEND_CONFIRMATION, {"subscriber_id": subscriber.id})
    db.session.commit()
    metrics.unsubscribed(cause, left)
    return changed


def public_newsletters() -> list[Newsletter]:
    """Every public newsletter, in a stable order."""
    return list(
        db.session.scalars(select(Newsletter).where(Newsletter.listed()).order_by(Newsletter.id))
    )


def preference_newsletters(subscriber: Subscriber) -> list[Newsletter]:
    """The newsletters of a reader's preference page, in a stable order: every one the reader
    has a subscription to (hidden or archived included, so they can manage and leave it), and
    the public, unarchived ones they could join."""
    own = [s.newsletter for s in subscriber.subscriptions if s.status is not None]
    chosen = {n.id: n for n in public_newsletters()} | {n.id: n for n in own}
    return [chosen[key] for key in sorted(chosen)]

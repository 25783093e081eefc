"""Confirming a signup (double opt-in): the emailed link, its token, and what confirming does.

Confirming with the emailed token confirms every pending subscription of that reader. The
token is bound to the reader's `state_version`, so after any later change an old link
cannot be replayed. At most one confirmation email goes to an address per
`CONFIRMATION_RESEND_SECONDS`, whatever signs it up meanwhile (`service.reader_mail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import Connection

from service import metrics, outbox, reader_mail
from service.extensions import db
from service.leaving import suppression
from service.mail import send_transactional
from service.models import ConsentRecord, Newsletter, Subscriber, SubscriptionStatus, utcnow
from service.task_names import TaskName
from service.tokens import TokenInvalid, token_service
from service.webhooks import events


class TokenStale(TokenInvalid):
    """The token is authentic, but the subscription changed since it was made."""


@dataclass
class ConfirmResult:
    """The outcome of a confirmation: which newsletters the reader now receives."""

    subscriber: Subscriber
    newsletters: list[Newsletter] = field(default_factory=list)
    changed: bool = False


def queue_first_confirmation(conn: Connection, subscriber_id: int, now: datetime) -> None:
    """Enqueue the confirmation email of a reader just created (inside `outbox.transaction`)."""
    outbox.enqueue_on(conn, TaskName.SEND_CONFIRMATION, {"subscriber_id": subscriber_id}, now)


def queue_confirmation(conn: Connection, subscriber_id: int, now: datetime) -> bool:
    """Enqueue the confirmation email unless one went to this reader within the pause.

    The check and the claim are one step (`reader_mail.claim`), so concurrent signups of one
    reader, in whatever spelling, queue one email. True if one was queued.
    """
    if not reader_mail.claim(conn, subscriber_id, reader_mail.CONFIRMATION, now):
        return False
    queue_first_confirmation(conn, subscriber_id, now)
    return True


def resend_confirmation(subscriber_id: int) -> None:
    """Queue a fresh confirmation email for a reader with pending subscriptions (rate limited)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or not any(
        s.status == SubscriptionStatus.PENDING for s in subscriber.subscriptions
    ):
        return
    db.session.rollback()  # end the read: the queueing below is a transaction of its own
    with outbox.transaction() as conn:
        queue_confirmation(conn, subscriber_id, utcnow())


def confirmation_token(subscriber: Subscriber) -> str:
    """The signed token for the reader's confirmation link."""
    return token_service("confirm").dumps({"s": subscriber.id, "v": subscriber.state_version})


def load_confirmation(token: str) -> tuple[Subscriber, int]:
    """The reader a token belongs to and the token's version; raise TokenInvalid/Expired/Stale."""
    payload = token_service("confirm").loads(token)
    subscriber = db.session.get(Subscriber, payload.get("s"))
    if subscriber is None:
        raise TokenInvalid("no such subscriber")
    if payload.get("v") != subscriber.state_version and not _already_confirmed(subscriber):
        raise TokenStale("subscription changed since the token was made")
    return subscriber, payload.get("v")


def _already_confirmed(subscriber: Subscriber) -> bool:
    statuses = {s.status for s in subscriber.subscriptions}
    return SubscriptionStatus.CONFIRMED in statuses and SubscriptionStatus.PENDING not in statuses


def confirm(token: str, *, ip: str | None = None, user_agent: str | None = None) -> ConfirmResult:
    """Confirm every pending subscription of the token's reader; repeating it changes nothing."""
    subscriber, payload_version = load_confirmation(token)
    confirmed = [s for s in subscriber.subscriptions if s.status == SubscriptionStatus.CONFIRMED]
    if payload_version != subscriber.state_version:
        return ConfirmResult(subscriber, [s.newsletter for s in confirmed], changed=False)
    pending = [s for s in subscriber.subscriptions if s.status == SubscriptionStatus.PENDING]
    for subscription in pending:
        subscription.move_to(SubscriptionStatus.CONFIRMED, "confirm")
    subscriber.state_version += 1
    suppression.remove(subscriber.email_key, suppression.LIFTED_BY_CONFIRMING)
    slugs = [s.newsletter.slug for s in pending]
    events.reader_event(events.SUBSCRIBER_CONFIRMED, subscriber, slugs, "confirm-link")
    db.session.add(
        ConsentRecord(
            subscriber=subscriber,
            action="confirm",
            newsletters=",".join(s.newsletter.slug for s in pending),
            ip=ip,
            user_agent=(user_agent or "")[:400] or None,
            form="confirm-link",
        )
    )
    db.session.commit()
    metrics.confirmed(slugs)
    return ConfirmResult(subscriber, [s.newsletter for s in confirmed + pending], changed=True)


def send_confirmation_email(subscriber_id: int) -> None:
    """Render and send the confirmation email for `subscriber_id` (run by a worker)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    pending = [
        s.newsletter for s in subscriber.subscriptions if s.status == SubscriptionStatus.PENDING
    ]
    if not pending:
        return
    config = current_app.config
    send_transactional(
        "confirm",
        subscriber,
        newsletter_names=", ".join(n.name_in(subscriber.locale) for n in pending),
        confirm_url=f"{config['PUBLIC_URL']}/confirm/{confirmation_token(subscriber)}",
        expiry_days=max(1, config["CONFIRM_TOKEN_MAX_AGE"] // 86400),
    )

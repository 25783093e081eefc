"""Subscribe, confirm and re-send confirmation: plain functions on the database session.

Double opt-in: a signup stores pending subscriptions and a consent record, and queues one
confirmation email (at most one per address per `CONFIRMATION_RESEND_SECONDS`). The answer is
the same whatever the address's state, so nothing can be learnt by probing. Confirming with
the emailed token confirms every pending subscription of that reader; the token is bound to
the reader's `state_version`, so after any later change an old link cannot be replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from service import jobs
from service.extensions import db, insert_ignoring_conflicts
from service.i18n import t
from service.mail import build_message, deliver, header_address, render_email
from service.models import (
    ConsentRecord,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.tokens import TokenInvalid, token_service
from service.validation import Address

CONFIRMATION_TASK = "mail.send_confirmation"


class UnknownNewsletter(ValueError):
    """A requested newsletter slug does not exist."""


class TokenStale(TokenInvalid):
    """The token is authentic, but the subscription changed since it was made."""


@dataclass
class SignupRequest:
    """What a reader submitted, plus where it came from (for the consent record)."""

    address: Address
    newsletters: Sequence[str]
    name: str | None = None
    locale: str = "en"
    source_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    form: str | None = None


@dataclass
class ConfirmResult:
    """The outcome of a confirmation: which newsletters the reader now receives."""

    subscriber: Subscriber
    newsletters: list[Newsletter] = field(default_factory=list)
    changed: bool = False


def suppression_hash(email_key: str) -> str:
    """The SHA-256 by which a suppressed address is remembered."""
    return hashlib.sha256(email_key.encode()).hexdigest()


def find_newsletters(slugs: Sequence[str]) -> list[Newsletter]:
    """The newsletters for `slugs`, in the order given; raise UnknownNewsletter if any is missing."""
    wanted = list(dict.fromkeys(slugs))
    found = {
        n.slug: n for n in db.session.scalars(select(Newsletter).where(Newsletter.slug.in_(wanted)))
    }
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise UnknownNewsletter(", ".join(missing))
    return [found[slug] for slug in wanted]


def subscribe(request: SignupRequest) -> None:
    """Record a signup and queue its confirmation email; the same outcome for every address state."""
    newsletters = find_newsletters(request.newsletters)
    subscriber = _get_or_create_subscriber(request)
    if _is_blocked(subscriber.email_key):
        db.session.rollback()
        return
    by_newsletter = {s.newsletter_id: s for s in subscriber.subscriptions}
    for newsletter in newsletters:
        subscription = by_newsletter.get(newsletter.id)
        if subscription is None:
            subscription = Subscription(newsletter=newsletter, status=SubscriptionStatus.PENDING)
            subscriber.subscriptions.append(subscription)
            _record(subscription, None, "signup")
        elif subscription.status in (SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED):
            previous = subscription.status
            subscription.status = SubscriptionStatus.PENDING
            _record(subscription, previous, "signup")
    db.session.add(
        ConsentRecord(
            subscriber=subscriber,
            action="signup",
            newsletters=",".join(n.slug for n in newsletters),
            ip=request.ip,
            user_agent=(request.user_agent or "")[:400] or None,
            source_url=(request.source_url or "")[:2000] or None,
            form=request.form,
        )
    )
    job = _queue_confirmation(subscriber)
    db.session.commit()
    if job is not None:
        jobs.hand_over([job])


def _get_or_create_subscriber(request: SignupRequest) -> Subscriber:
    address = request.address
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    if subscriber is not None:
        if request.name and not subscriber.name:
            subscriber.name = request.name
        return subscriber
    values = {
        "email": address.display,
        "email_ascii": address.ascii,
        "email_key": address.key,
        "smtputf8": address.smtputf8,
        "name": request.name or None,
        "locale": request.locale,
        "state_version": 0,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    # INSERT ... ON CONFLICT DO NOTHING: two concurrent signups of one address make one row.
    db.session.execute(insert_ignoring_conflicts(Subscriber).values(values))
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    return subscriber


def _is_blocked(email_key: str) -> bool:
    """A manual block stops even the confirmation email; other suppressions need re-consent."""
    reason = db.session.scalar(
        select(Suppression.reason).where(Suppression.email_hash == suppression_hash(email_key))
    )
    return reason == "manual"


def _queue_confirmation(subscriber: Subscriber):
    has_pending = any(s.status == SubscriptionStatus.PENDING for s in subscriber.subscriptions)
    if not has_pending:
        return None
    now = utcnow()
    pause = timedelta(seconds=current_app.config["CONFIRMATION_RESEND_SECONDS"])
    last = subscriber.last_confirmation_sent_at
    if last is not None and now - last < pause:
        return None
    subscriber.last_confirmation_sent_at = now
    db.session.flush()
    return jobs.add_job(CONFIRMATION_TASK, {"subscriber_id": subscriber.id})


def _record(subscription: Subscription, previous: str | None, cause: str) -> None:
    subscription.updated_at = utcnow()
    db.session.add(
        SubscriptionEvent(
            subscription=subscription,
            from_status=previous,
            to_status=subscription.status,
            cause=cause,
        )
    )


def resend_confirmation(subscriber_id: int) -> None:
    """Queue a fresh confirmation email for a reader with pending subscriptions (rate limited)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    job = _queue_confirmation(subscriber)
    db.session.commit()
    if job is not None:
        jobs.hand_over([job])


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
    now = utcnow()
    pending = [s for s in subscriber.subscriptions if s.status == SubscriptionStatus.PENDING]
    for subscription in pending:
        subscription.status = SubscriptionStatus.CONFIRMED
        subscription.confirmed_at = now
        _record(subscription, SubscriptionStatus.PENDING, "confirm")
    subscriber.state_version += 1
    db.session.execute(
        delete(Suppression).where(Suppression.email_hash == suppression_hash(subscriber.email_key))
    )
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
    locale = subscriber.locale
    token = confirmation_token(subscriber)
    rendered = render_email(
        "confirm",
        {
            "locale": locale,
            "name": subscriber.name,
            "newsletter_names": ", ".join(n.name for n in pending),
            "confirm_url": f"{config['PUBLIC_URL']}/confirm/{token}",
            "expiry_days": max(1, config["CONFIRM_TOKEN_MAX_AGE"] // 86400),
            "publisher_name": config["PUBLISHER_NAME"],
            "publisher_address": config["PUBLISHER_ADDRESS"],
            "t": t,
        },
    )
    message = build_message(
        rendered,
        to=header_address(subscriber.email_ascii, subscriber.name),
        sender=config["MAIL_FROM"],
        headers={"Auto-Submitted": "auto-generated"},
    )
    deliver(message, smtputf8=subscriber.smtputf8)

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
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, or_, select, update

from service import jobs
from service.extensions import db, insert_ignoring_conflicts
from service.i18n import t
from service.mail import build_message, deliver, header_address, render_email
from service.models import (
    ConsentRecord,
    JobStatus,
    Newsletter,
    OutboxJob,
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


def newsletter_ids(slugs: Sequence[str]) -> list[int]:
    """The ids of the newsletters `slugs`; raise UnknownNewsletter if any is missing."""
    wanted = list(dict.fromkeys(slugs))
    found = {
        slug: id_
        for slug, id_ in db.session.execute(
            select(Newsletter.slug, Newsletter.id).where(Newsletter.slug.in_(wanted))
        )
    }
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise UnknownNewsletter(", ".join(missing))
    return [found[slug] for slug in wanted]


def subscribe(request: SignupRequest) -> None:
    """Record a signup and queue its confirmation; the same outcome for every address state.

    Written with Core statements (one transaction, one commit): this is the hot path.
    """
    session = db.session
    ids = newsletter_ids(request.newsletters)
    address = request.address
    now = utcnow()
    if _is_blocked(address.key):
        return
    # INSERT ... ON CONFLICT DO NOTHING: two concurrent signups of one address make one row.
    session.execute(
        insert_ignoring_conflicts(Subscriber).values(
            email=address.display,
            email_ascii=address.ascii,
            email_key=address.key,
            smtputf8=address.smtputf8,
            name=request.name,
            locale=request.locale,
            state_version=0,
            created_at=now,
            updated_at=now,
        )
    )
    subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email_key == address.key))
    existing = {
        newsletter_id: status
        for newsletter_id, status in session.execute(
            select(Subscription.newsletter_id, Subscription.status).where(
                Subscription.subscriber_id == subscriber_id
            )
        )
    }
    new_ids = [n for n in ids if n not in existing]
    renewed_ids = [n for n in ids if existing.get(n) in _INACTIVE]
    events = []
    if new_ids:
        created = session.execute(
            insert(Subscription).returning(Subscription.id),
            [
                {
                    "subscriber_id": subscriber_id,
                    "newsletter_id": n,
                    "status": PENDING,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in new_ids
            ],
        ).scalars()
        events += [{"subscription_id": i, "from_status": None} for i in created]
    if renewed_ids:
        renewed = session.execute(
            select(Subscription.id, Subscription.status).where(
                Subscription.subscriber_id == subscriber_id,
                Subscription.newsletter_id.in_(renewed_ids),
            )
        ).all()
        session.execute(
            update(Subscription)
            .where(Subscription.id.in_([r.id for r in renewed]))
            .values(status=PENDING, updated_at=now)
        )
        events += [{"subscription_id": r.id, "from_status": r.status} for r in renewed]
    if events:
        session.execute(
            insert(SubscriptionEvent),
            [{**e, "to_status": PENDING, "cause": "signup", "created_at": now} for e in events],
        )
    session.execute(
        insert(ConsentRecord).values(
            subscriber_id=subscriber_id,
            action="signup",
            newsletters=",".join(request.newsletters),
            ip=request.ip,
            user_agent=(request.user_agent or "")[:400] or None,
            source_url=(request.source_url or "")[:2000] or None,
            form=request.form,
            created_at=now,
        )
    )
    has_pending = bool(events) or PENDING in [existing.get(n) for n in ids]
    job_id = _queue_confirmation(subscriber_id, now) if has_pending else None
    session.commit()
    if job_id is not None:
        jobs.hand_over([job_id], CONFIRMATION_TASK)


_INACTIVE = (SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED)
PENDING = SubscriptionStatus.PENDING


def _is_blocked(email_key: str) -> bool:
    """A manual block stops even the confirmation email; other suppressions need re-consent."""
    reason = db.session.scalar(
        select(Suppression.reason).where(Suppression.email_hash == suppression_hash(email_key))
    )
    return reason == "manual"


def _queue_confirmation(subscriber_id: int, now: datetime) -> int | None:
    """Add the confirmation job unless one went out to this address within the pause.

    The conditional UPDATE makes the check and the claim one step, so concurrent signups of
    one address queue one email.
    """
    pause = timedelta(seconds=current_app.config["CONFIRMATION_RESEND_SECONDS"])
    claimed = db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            or_(
                Subscriber.last_confirmation_sent_at.is_(None),
                Subscriber.last_confirmation_sent_at < now - pause,
            ),
        )
        .values(last_confirmation_sent_at=now)
    )
    if claimed.rowcount != 1:
        return None
    return db.session.scalar(
        insert(OutboxJob)
        .values(
            task=CONFIRMATION_TASK,
            payload={"subscriber_id": subscriber_id},
            status=JobStatus.PENDING,
            attempts=0,
            available_at=now + jobs.REDISPATCH_AFTER,
            last_error="",
            created_at=now,
        )
        .returning(OutboxJob.id)
    )


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
    if subscriber is None or not any(s.status == PENDING for s in subscriber.subscriptions):
        return
    job_id = _queue_confirmation(subscriber_id, utcnow())
    db.session.commit()
    if job_id is not None:
        jobs.hand_over([job_id], CONFIRMATION_TASK)


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

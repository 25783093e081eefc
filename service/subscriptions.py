"""Subscribe, confirm and re-send confirmation: plain functions on the database.

A signup is accepted in two steps. The web request checks it and stores it as one row, an
outbox job that carries the whole signup (`subscribe`), then answers 202: one durable insert,
so the signup boxes of a busy article page cost little. A worker then applies it
(`apply_signups`, many per transaction): the subscriber, pending subscriptions and their
events, the consent record (stamped with the time of the request), and one confirmation
email, at most one per address per `CONFIRMATION_RESEND_SECONDS`. The answer is the same
whatever the address's state, so nothing can be learnt by probing.

Double opt-in: confirming with the emailed token confirms every pending subscription of that
reader; the token is bound to the reader's `state_version`, so after any later change an old
link cannot be replayed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import DBAPIError

from service import jobs, newsletter_index, signup_statement
from service.extensions import db
from service.mail import send_transactional
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
SIGNUP_TASK = "signups.apply"
log = logging.getLogger(__name__)


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


# The statements that apply a signup, built once (building them per signup costs more than
# running them) on the plain tables: Core, not the ORM's bulk-insert machinery, which costs
# several times more per statement.
_SUBSCRIBERS, _SUBSCRIPTIONS = Subscriber.__table__, Subscription.__table__
_BLOCK_REASON = select(Suppression.__table__.c.reason).where(
    Suppression.__table__.c.email_hash == bindparam("hash")
)
_SUBSCRIBER_ID = select(_SUBSCRIBERS.c.id).where(_SUBSCRIBERS.c.email_key == bindparam("key"))
_SUBSCRIPTIONS_OF = select(
    _SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.newsletter_id, _SUBSCRIPTIONS.c.status
).where(_SUBSCRIPTIONS.c.subscriber_id == bindparam("subscriber_id"))
_INSERT_SUBSCRIPTIONS = insert(_SUBSCRIPTIONS).returning(_SUBSCRIPTIONS.c.id)
_INSERT_EVENTS = insert(SubscriptionEvent.__table__)
_INSERT_CONSENT = insert(ConsentRecord.__table__)
_INSERT_JOB = insert(OutboxJob.__table__).returning(OutboxJob.__table__.c.id)
_JOBS = OutboxJob.__table__
_CLAIM_SIGNUPS = (
    update(_JOBS)
    .where(
        _JOBS.c.id.in_(bindparam("ids", expanding=True)),
        _JOBS.c.task == SIGNUP_TASK,
        _JOBS.c.status == JobStatus.PENDING,
    )
    .values(
        status=JobStatus.DONE,
        attempts=_JOBS.c.attempts + 1,
        dispatched_at=bindparam("now", type_=_JOBS.c.dispatched_at.type),
        finished_at=bindparam("now", type_=_JOBS.c.finished_at.type),
    )
    .returning(_JOBS.c.id, _JOBS.c.payload)
)
_FAIL_JOB = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"))
    .values(status=JobStatus.FAILED, last_error=bindparam("error"))
)
_FORGET_PAYLOADS = (
    update(_JOBS).where(_JOBS.c.id.in_(bindparam("ids", expanding=True))).values(payload={})
)
_CONSENT_FIELDS = ("newsletters", "ip", "user_agent", "source_url", "form")


def newsletter_ids(slugs: Sequence[str]) -> list[int]:
    """The ids of the newsletters `slugs`; raise UnknownNewsletter if any is missing."""
    wanted = list(dict.fromkeys(slugs))
    known = newsletter_index.newsletters(wanted)
    unknown = [slug for slug in wanted if slug not in known]
    if unknown:
        raise UnknownNewsletter(", ".join(unknown))
    return [known[slug].id for slug in wanted]


def subscribe(request: SignupRequest) -> None:
    """Accept a signup: store it as one outbox job and hand that to a worker soon.

    The job is committed before this returns (the 202 never promises what is not stored). If
    the broker is down the job waits for beat's relay; a worker applies it either way.
    """
    now = utcnow()
    payload = {
        **_subscriber_values(request),
        **_consent_values(request),
        "newsletter_ids": newsletter_ids(request.newsletters),
        "at": now.isoformat(),
    }
    job_id = signup_statement.record_signup_job(
        db.engine, SIGNUP_TASK, payload, now, now + jobs.REDISPATCH_AFTER
    )
    jobs.hand_over_soon(job_id, SIGNUP_TASK)


def apply_signups(job_ids: int | list[int]) -> int:
    """Apply the signups of these outbox jobs in one transaction; return how many it applied.

    Claiming a job and applying it commit together, so a job is applied once: a worker that
    dies half-way leaves the jobs pending for the relay, and a job handed over twice is
    applied by whoever claims it first. One signup that fails is rolled back alone and its
    job marked failed: the batch is applied whole first, and only if one of its signups fails
    is it applied again with each signup in a savepoint of its own (savepoints cost a third
    of a signup's time on PostgreSQL). The confirmation emails are handed over after the commit.
    """
    ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
    try:
        applied, confirmations = _apply_batch(ids, isolate=False)
    except _SIGNUP_ERRORS as exc:
        log.info("a signup of jobs %s failed (%r): applying them one by one", ids, exc)
        applied, confirmations = _apply_batch(ids, isolate=True)
    if confirmations:
        jobs.hand_over(confirmations, CONFIRMATION_TASK)
    return len(applied)


_SIGNUP_ERRORS = (DBAPIError, KeyError, TypeError, ValueError)


def _apply_batch(ids: list[int], *, isolate: bool) -> tuple[list[int], list[int]]:
    """Claim and apply these jobs in one transaction: (applied job ids, confirmation jobs).

    With `isolate` each signup gets a savepoint and one that fails marks its job failed;
    without, a failing signup rolls the whole transaction (the claims too) back and raises.
    """
    applied: list[int] = []
    confirmations: list[int] = []
    with db.engine.begin() as conn:
        claimed = sorted(conn.execute(_CLAIM_SIGNUPS, {"ids": ids, "now": utcnow()}).all())
        for job_id, signup in claimed:
            try:
                with conn.begin_nested() if isolate else nullcontext():
                    confirmation = _record_signup(
                        conn, signup, datetime.fromisoformat(signup["at"])
                    )
            except _SIGNUP_ERRORS as exc:
                if not isolate:
                    raise
                # The job keeps its signup, so it can be looked at and handed over again.
                log.warning("signup job %s failed: %r", job_id, exc, extra={"job_id": job_id})
                conn.execute(_FAIL_JOB, {"job_id": job_id, "error": repr(exc)[:1000]})
                continue
            applied.append(job_id)
            if confirmation is not None:
                confirmations.append(confirmation)
        if applied:  # what these jobs carried is in the signups' rows now: keep no copy
            conn.execute(_FORGET_PAYLOADS, {"ids": applied})
    return applied, confirmations


def _subscriber_values(request: SignupRequest) -> dict[str, Any]:
    address = request.address
    return {
        "email": address.display,
        "email_ascii": address.ascii,
        "email_key": address.key,
        "smtputf8": address.smtputf8,
        "name": request.name,
        "locale": request.locale,
    }


def _consent_values(request: SignupRequest) -> dict[str, Any]:
    """The proof of opt-in: what was asked for, from where, by which browser."""
    return {
        "newsletters": ",".join(request.newsletters),
        "ip": request.ip,
        "user_agent": (request.user_agent or "")[:400] or None,
        "source_url": (request.source_url or "")[:2000] or None,
        "form": request.form,
    }


def _record_signup(conn: Connection, signup: dict[str, Any], now: datetime) -> int | None:
    """Write one signup (as `subscribe` stored it); the confirmation job due, if any."""
    key = signup["email_key"]
    email_hash = suppression_hash(key)
    ids = signup["newsletter_ids"]
    subscriber = {name: signup[name] for name in signup_statement.SUBSCRIBER_FIELDS}
    # Two concurrent signups of one address make one row: the loser gets no id back.
    subscriber_id = conn.scalar(
        signup_statement.new_subscriber(conn.dialect.name),
        {**subscriber, "hash": email_hash, "now": now},
    )
    is_new = subscriber_id is not None
    existing: dict[int, tuple[int, str]] = {}
    if not is_new:
        if conn.scalar(_BLOCK_REASON, {"hash": email_hash}) == "manual":
            return None  # a manual block stops even the confirmation email
        subscriber_id = conn.scalar(_SUBSCRIBER_ID, {"key": key})
        existing = {
            row.newsletter_id: (row.id, row.status)
            for row in conn.execute(_SUBSCRIPTIONS_OF, {"subscriber_id": subscriber_id})
        }
    events = _add_subscriptions(conn, subscriber_id, ids, existing, now)
    conn.execute(
        _INSERT_CONSENT,
        {
            **{name: signup[name] for name in _CONSENT_FIELDS},
            "subscriber_id": subscriber_id,
            "action": "signup",
            "created_at": now,
        },
    )
    if is_new:
        return _add_confirmation_job(conn, subscriber_id, now)
    if events or any(existing.get(n, (0, ""))[1] == PENDING for n in ids):
        return _queue_confirmation(conn, subscriber_id, now)
    return None


def _add_subscriptions(
    conn: Connection,
    subscriber_id: int,
    ids: list[int],
    existing: dict[int, tuple[int, str]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Create missing subscriptions and renew inactive ones as pending; return their events."""
    events: list[dict[str, Any]] = []
    new_ids = [n for n in ids if n not in existing]
    if new_ids:
        created = conn.execute(
            _INSERT_SUBSCRIPTIONS,
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
    renewed = [existing[n] for n in ids if n in existing and existing[n][1] in _INACTIVE]
    if renewed:
        conn.execute(
            update(_SUBSCRIPTIONS)
            .where(_SUBSCRIPTIONS.c.id.in_([sub_id for sub_id, _ in renewed]))
            .values(status=PENDING, updated_at=now)
        )
        events += [{"subscription_id": i, "from_status": status} for i, status in renewed]
    if events:
        conn.execute(
            _INSERT_EVENTS,
            [{**e, "to_status": PENDING, "cause": "signup", "created_at": now} for e in events],
        )
    return events


_INACTIVE = (SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED)
PENDING = SubscriptionStatus.PENDING


def _add_confirmation_job(conn: Connection, subscriber_id: int, now: datetime) -> int:
    """The outbox row of a confirmation email, due for the relay only if the hand-over fails."""
    return conn.scalar(
        _INSERT_JOB,
        {
            "task": CONFIRMATION_TASK,
            "payload": {"subscriber_id": subscriber_id},
            "status": JobStatus.PENDING,
            "attempts": 0,
            "available_at": now + jobs.REDISPATCH_AFTER,
            "last_error": "",
            "created_at": now,
        },
    )


def _queue_confirmation(conn: Connection, subscriber_id: int, now: datetime) -> int | None:
    """Add the confirmation job unless one went out to this address within the pause.

    The conditional UPDATE makes the check and the claim one step, so concurrent signups of
    one address queue one email.
    """
    pause = timedelta(seconds=current_app.config["CONFIRMATION_RESEND_SECONDS"])
    claimed = conn.execute(
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
    return _add_confirmation_job(conn, subscriber_id, now)


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
    job_id = _queue_confirmation(db.session.connection(), subscriber_id, utcnow())
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
    send_transactional(
        "confirm",
        subscriber,
        newsletter_names=", ".join(n.name_in(subscriber.locale) for n in pending),
        confirm_url=f"{config['PUBLIC_URL']}/confirm/{confirmation_token(subscriber)}",
        expiry_days=max(1, config["CONFIRM_TOKEN_MAX_AGE"] // 86400),
    )

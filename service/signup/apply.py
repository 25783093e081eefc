"""Applying signups: the worker's side of a signup, many per transaction, each exactly once.

A worker claims a Celery message's worth of signup jobs and writes, for each, the subscriber,
a pending subscription per newsletter and their events, the consent record (stamped with the
time of the request) and the confirmation email's job, at most one per address per
`CONFIRMATION_RESEND_SECONDS`. Claiming and applying commit together, so a signup is applied
once; one that fails is rolled back alone and its job marked failed. Each signup is applied
under the request id it was made with, so its confirmation job carries it on, and once the
transaction commits one log line names the signups applied and the requests they came from.
Each pending subscription a signup makes is counted in the newsletter's daily figures and under
the page it was made on (`service.sources`), which the subscription keeps for its confirmation;
only what the transaction wrote counts (a reader's subscription a concurrent signup renewed
first is left as found).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import Connection, bindparam, exists, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from service import daily, logs, metrics, outbox
from service.leaving.suppression import MANUAL, suppression_hash
from service.lists import newsletter_index
from service.models import (
    ConsentRecord,
    JobStatus,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
)
from service.signup.accept import SUBSCRIBER_FIELDS
from service.signup.confirm import queue_confirmation, queue_first_confirmation
from service.sources import pages
from service.sources import tally as page_tally
from service.task_names import TaskName

log = logging.getLogger(__name__)

PENDING = SubscriptionStatus.PENDING
_INACTIVE = (SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED)
_SIGNUP_ERRORS = (DBAPIError, KeyError, TypeError, ValueError)
_CONSENT_FIELDS = ("newsletters", "ip", "user_agent", "source_url", "form")

# The statements that apply a signup, built once (building them per signup costs more than
# running them) on the plain tables: Core, not the ORM's bulk-insert machinery.
_SUBSCRIBERS, _SUBSCRIPTIONS = Subscriber.__table__, Subscription.__table__
_SUPPRESSIONS = Suppression.__table__
_BLOCK_REASON = select(_SUPPRESSIONS.c.reason).where(
    _SUPPRESSIONS.c.email_hash == bindparam("hash")
)
_SUBSCRIBER_ID = select(_SUBSCRIBERS.c.id).where(_SUBSCRIBERS.c.email_key == bindparam("key"))
_SUBSCRIPTIONS_OF = select(
    _SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.newsletter_id, _SUBSCRIPTIONS.c.status
).where(_SUBSCRIPTIONS.c.subscriber_id == bindparam("subscriber_id"))
_INSERT_SUBSCRIPTIONS = insert(_SUBSCRIPTIONS).returning(
    _SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.newsletter_id
)
_INSERT_EVENTS = insert(SubscriptionEvent.__table__)
_INSERT_CONSENT = insert(ConsentRecord.__table__)
# A subscription moves only from the status it was read in (`was`): one a concurrent signup
# renewed first is not renewed, nor counted, twice.
_RENEW = (
    update(_SUBSCRIPTIONS)
    .where(_SUBSCRIPTIONS.c.id == bindparam("sub_id"), _SUBSCRIPTIONS.c.status == bindparam("was"))
    .values(status=PENDING, signup_page=bindparam("page"), updated_at=bindparam("now"))
    .returning(_SUBSCRIPTIONS.c.id)
)


@cache
def _new_subscriber(dialect: str) -> Any:
    """INSERT the subscriber unless the address is known or blocked by hand, RETURNING its id.

    Parameters: the subscriber's fields, `hash` (its suppression hash) and `now`.
    """
    module = postgresql if dialect == "postgresql" else sqlite
    blocked = select(_SUPPRESSIONS.c.id).where(
        _SUPPRESSIONS.c.email_hash == bindparam("hash"), _SUPPRESSIONS.c.reason == MANUAL
    )
    columns = [_SUBSCRIBERS.c[name] for name in SUBSCRIBER_FIELDS]
    now = bindparam("now", type_=_SUBSCRIBERS.c.created_at.type)
    values = [bindparam(column.name, type_=column.type) for column in columns]
    return (
        module.insert(_SUBSCRIBERS)
        .from_select(
            [*columns, "state_version", "last_confirmation_sent_at", "created_at", "updated_at"],
            select(*values, literal(0), now, now, now).where(~exists(blocked)),
        )
        .on_conflict_do_nothing()
        .returning(_SUBSCRIBERS.c.id)
    )


def apply_signups(job_ids: int | list[int]) -> int:
    """Apply the signups of these outbox jobs in one transaction; how many it applied.

    The batch is applied whole first; only if one of its signups fails is it applied again
    with each signup in a savepoint of its own, so the bad one alone is marked failed. The
    confirmation emails are published after the commit.
    """
    ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
    try:
        applied = _apply_batch(ids, isolate=False)
    except _SIGNUP_ERRORS as exc:
        log.info("a signup of jobs %s failed (%r): applying them one by one", ids, exc)
        applied = _apply_batch(ids, isolate=True)
    return len(applied)


def _apply_batch(ids: list[int], *, isolate: bool) -> list[int]:
    """Claim and apply these jobs in one transaction; the ids of the jobs applied.

    With `isolate` each signup gets a savepoint and one that fails marks its job failed;
    without, a failing signup rolls the whole transaction (the claims too) back and raises.
    """
    applied: list[int] = []
    failed = 0
    done: list[tuple[int, int | None, str | None]] = []  # job, subscriber, request id
    counted = daily.Tally()  # the batch's daily figures, written last (rows locked in order)
    by_page = page_tally.PageTally()  # and its figures by page, written after them
    namer = _PageNamer()
    with outbox.transaction() as conn:
        for job_id, signup in outbox.claim(conn, TaskName.APPLY_SIGNUPS, ids):
            request_id = signup.get(outbox.REQUEST_ID_KEY)
            tally = daily.Tally()
            signup_pages = page_tally.PageTally()
            try:
                with (
                    logs.bound(request=request_id),
                    conn.begin_nested() if isolate else nullcontext(),
                ):
                    subscriber_id = _record_signup(
                        conn,
                        signup,
                        datetime.fromisoformat(signup["at"]),
                        tally,
                        namer.pages(signup),
                        signup_pages,
                    )
            except _SIGNUP_ERRORS as exc:
                if not isolate:
                    raise
                # The job keeps its signup, so it can be looked at and published again.
                with logs.bound(request=request_id):
                    log.warning("signup job %s failed: %r", job_id, exc, extra={"job_id": job_id})
                outbox.finish(conn, [job_id], JobStatus.FAILED, repr(exc))
                failed += 1
                continue
            applied.append(job_id)
            done.append((job_id, subscriber_id, request_id))
            counted.merge(tally)
            by_page.merge(signup_pages)
        daily.write(conn, counted)
        page_tally.write(conn, by_page)
        # What these jobs carried is in the signups' rows now: keep no copy.
        outbox.finish(conn, applied, forget_payload=True)
    metrics.job_ended(TaskName.APPLY_SIGNUPS, "done", len(applied))
    metrics.job_ended(TaskName.APPLY_SIGNUPS, "failed", failed)
    if done:
        _say_applied(done)
    return applied


def _say_applied(done: list[tuple[int, int | None, str | None]]) -> None:
    """One line for a transaction's signups, naming each one's request (one line per batch,
    not per signup: under load a batch holds up to `JOBS_PER_MESSAGE`). A batch of one
    request's signups carries its id as `request_id`, as every other line does."""
    request_ids = sorted({request_id for _, _, request_id in done if request_id})
    with logs.bound(request=request_ids[0] if len(request_ids) == 1 else None):
        log.info(
            "%s signup job(s) applied: %s",
            len(done),
            ", ".join(f"job {job} -> subscriber {subscriber}" for job, subscriber, _ in done),
            extra={
                "task": TaskName.APPLY_SIGNUPS,
                "job_ids": [job for job, _, _ in done],
                "request_ids": request_ids,
            },
        )


class _PageNamer:
    """The page each newsletter counts a signup's `source_url` under (`service.sources.pages`),
    from this process's copy of the newsletters' allowlists, read once per batch."""

    def __init__(self) -> None:
        config = current_app.config
        self.own = pages.own_origins(config["ALLOWED_ORIGINS"], config["PUBLIC_URL"])
        entries = newsletter_index.newsletters().values()  # before the batch's transaction
        self.origins = {entry.id: self.own | entry.allowed_origins for entry in entries}

    def pages(self, signup: dict[str, Any]) -> dict[int, str]:
        """Newsletter id -> page, for the newsletters `signup` names."""
        source = signup.get("source_url")
        return {
            n: pages.page_of(source, self.origins.get(n, self.own))
            for n in signup["newsletter_ids"]
        }


def _record_signup(
    conn: Connection,
    signup: dict[str, Any],
    now: datetime,
    tally: daily.Tally,
    signup_pages: dict[int, str],
    by_page: page_tally.PageTally,
) -> int | None:
    """Write one signup (as `subscribe` stored it), and its confirmation job if one is due;
    its status changes are counted in `tally`, its pending subscriptions made in `by_page`
    under their newsletter's page (`signup_pages`); the subscriber's id (None when the address
    is blocked by hand)."""
    key = signup["email_key"]
    email_hash = suppression_hash(key)
    ids = signup["newsletter_ids"]
    subscriber = {name: signup[name] for name in SUBSCRIBER_FIELDS}
    # Two concurrent signups of one address make one row: the loser gets no id back.
    subscriber_id = conn.scalar(
        _new_subscriber(conn.dialect.name), {**subscriber, "hash": email_hash, "now": now}
    )
    is_new = subscriber_id is not None
    existing: dict[int, tuple[int, str]] = {}
    if not is_new:
        if conn.scalar(_BLOCK_REASON, {"hash": email_hash}) == MANUAL:
            return None  # a manual block stops even the confirmation email
        subscriber_id = conn.scalar(_SUBSCRIBER_ID, {"key": key})
        existing = {
            row.newsletter_id: (row.id, row.status)
            for row in conn.execute(_SUBSCRIPTIONS_OF, {"subscriber_id": subscriber_id})
        }
    made = _add_subscriptions(conn, subscriber_id, ids, existing, now, tally, signup_pages)
    for newsletter_id in made:
        by_page.signup(newsletter_id, now, signup_pages[newsletter_id])
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
        queue_first_confirmation(conn, subscriber_id, now)
    elif made or any(existing.get(n, (0, ""))[1] == PENDING for n in ids):
        queue_confirmation(conn, subscriber_id, now)
    return subscriber_id


def _add_subscriptions(
    conn: Connection,
    subscriber_id: int,
    ids: list[int],
    existing: dict[int, tuple[int, str]],
    now: datetime,
    tally: daily.Tally,
    signup_pages: dict[int, str],
) -> list[int]:
    """Create missing subscriptions and renew inactive ones as pending, each keeping its
    newsletter's page of this signup; the newsletters made pending. Only what was written is
    counted in `tally` and gets an event: a subscription a concurrent signup renewed first is
    left as it is now.

    The events are written in bulk here; every other status change records its event through
    `Subscription.move_to`.
    """
    made: dict[int, tuple[int, str | None]] = {}  # newsletter -> (subscription, status before)
    new_ids = [n for n in ids if n not in existing]
    if new_ids:
        created = conn.execute(
            _INSERT_SUBSCRIPTIONS,
            [
                {
                    "subscriber_id": subscriber_id,
                    "newsletter_id": n,
                    "status": PENDING,
                    "signup_page": signup_pages[n],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in new_ids
            ],
        )
        made.update({newsletter_id: (i, None) for i, newsletter_id in created})
    for n in ids:
        if n in existing and existing[n][1] in _INACTIVE:
            sub_id, was = existing[n]
            params = {"sub_id": sub_id, "was": was, "page": signup_pages[n], "now": now}
            if conn.scalar(_RENEW, params) is not None:
                made[n] = (sub_id, was)
    for newsletter_id, (_, was) in made.items():
        daily.tally_moves(tally, newsletter_id, [was], PENDING, now)
    if made:
        conn.execute(
            _INSERT_EVENTS,
            [
                {
                    "subscription_id": i,
                    "from_status": was,
                    "to_status": PENDING,
                    "cause": "signup",
                    "created_at": now,
                }
                for i, was in made.values()
            ],
        )
    return list(made)

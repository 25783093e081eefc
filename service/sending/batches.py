"""A batch's life: claim it, deliver it, then retry it later, finish it or park it.

`run_batch` is what the batch task calls. It claims the batch's lease (`lease`), loads the
readers not yet done in the ledger and hands them to the delivery loop (`delivery`). After
the loop:
- 4xx answers (or a relay that cannot be reached) leave their deliveries `queued` and the
  batch is retried with exponential back-off and jitter until `SEND_RETRY_DEADLINE_SECONDS`
  after the send started; a relay that gave no answer at all (refused, cut off) is tried
  again every `UNREACHABLE_RETRY_SECONDS`, so sending resumes within seconds of its return;
- a database connection the server dropped is retried on a fresh connection, resuming from
  the ledger; a database that cannot be reached is waited for (`DATABASE_WAIT_SECONDS`)
  with the batch's answers kept, and the batch goes on the moment it answers; past that
  wait the task is retried carrying its lease token (`Interrupted`), never consumed, and an
  outage never counts as the batch's failure;
- anything else fails the batch (every answer already back is written first); it is retried
  after a back-off and parked as `failed`, with the error, after `MAX_BATCH_FAILURES`. The
  rest of the send goes on; a send with a parked batch ends `failed`, naming it.

Nobody is missed without a word: when a batch ends for good (done after the retry deadline,
or parked) every confirmed reader of it without a ledger row gets a `failed` one with the
reason, in the same commit as the counters.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError

from service import logs, metrics
from service.database import is_dropped, is_unreachable, wait_until_reachable
from service.extensions import db
from service.leaving import suppression
from service.mail import RenderedEmail, dkim, feedback_id, newsletter_sender
from service.mail.verp import verp
from service.models import (
    BatchStatus,
    Delivery,
    DeliveryStatus,
    Newsletter,
    Send,
    SendBatch,
    SendStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from service.sending import personalize, setting
from service.sending.books import close_unreached
from service.sending.content import placeholders_of
from service.sending.delivery import Row, Tally, deliver_rows
from service.sending.lease import Lease, claim_batch, hold, let_go, release, update_if_held
from service.sending.ledger import DATABASE_WAIT_SECONDS, Ledger
from service.sending.lifecycle import finish_if_complete
from service.task_names import TaskName

log = logging.getLogger(__name__)

MAX_BATCH_FAILURES = 3  # unexpected failures before a batch is parked as `failed`
NOT_TRIED = "not tried before the retry deadline (SEND_RETRY_DEADLINE_SECONDS)"
INTERRUPTED_RETRY_SECONDS = 2.0  # an interrupted batch's task is tried again this soon
UNREACHABLE_RETRY_SECONDS = 3.0  # a relay that did not answer at all is tried again this soon


class Interrupted(Exception):
    """The infrastructure (the database) stayed away past the wait: retry the batch's task
    soon, with `token` (this claim, taken back without waiting for its lease to run out)."""

    def __init__(self, batch_id: int, token: int | None) -> None:
        super().__init__(f"batch {batch_id} interrupted: the database cannot be reached")
        self.token = token
        self.countdown = INTERRUPTED_RETRY_SECONDS


def _reaching(work, batch_id: int, token: int | None):
    """Run a unit of batch work that resumes from what it committed; when the database
    dropped its connection or cannot be reached, roll back, wait until it answers and run
    it again; `Interrupted` once `DATABASE_WAIT_SECONDS` passed (or after 10 drops)."""
    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
    for _ in range(10):
        try:
            return work()
        except DBAPIError as error:
            db.session.rollback()
            if not (is_dropped(error) or is_unreachable(error)):
                raise
            log.warning("batch %s: the database is away (%s); waiting for it", batch_id, error.orig)
            if not wait_until_reachable(db.engine, deadline - time.monotonic()):
                raise Interrupted(batch_id, token) from error
    raise Interrupted(batch_id, token)


def _template(send_id: int) -> personalize.MessageTemplate:
    """The send's prebuilt message (cached per process: the content is frozen)."""
    config = current_app.config
    return _cached_template(send_id, config["SQLALCHEMY_DATABASE_URI"], config["PUBLIC_URL"])


@lru_cache(maxsize=32)
def _cached_template(send_id: int, database: str, public_url: str) -> personalize.MessageTemplate:
    """The send's prebuilt message, made once per worker process from the frozen content."""
    send = db.session.get(Send, send_id, populate_existing=True)
    newsletter = db.session.get(Newsletter, send.newsletter_id)
    rendered = RenderedEmail(subject=send.subject, text=send.body_text, html=send.body_html)
    return personalize.build_template(
        rendered,
        sender=newsletter_sender(newsletter),
        newsletter_id=newsletter.id,
        placeholders=placeholders_of(send, newsletter),
        feedback_id=feedback_id(send_id, newsletter.slug),
        signer=dkim.signer(),
        verp=verp(),
    )


def _recipients(send_id: int, newsletter_id: int, batch: SendBatch) -> list[Row]:
    """The batch's confirmed readers not yet done in the ledger, in id order."""
    rows = db.session.execute(
        select(
            Subscriber.id,
            Subscriber.email,
            Subscriber.email_ascii,
            Subscriber.name,
            Subscriber.smtputf8,
            Subscriber.email_key,
            Delivery.id,
            Delivery.attempts,
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .outerjoin(
            Delivery, and_(Delivery.subscriber_id == Subscriber.id, Delivery.send_id == send_id)
        )
        .where(
            Subscription.newsletter_id == newsletter_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscriber.id > batch.after_id,
            Subscriber.id <= batch.upto_id,
            or_(Delivery.id.is_(None), Delivery.status == DeliveryStatus.QUEUED),
        )
        .order_by(Subscriber.id)
    ).all()
    # Readers an earlier claim may have handed over without writing down the outcome (it
    # died, or lost the database): sending them again may be their second copy.
    upto = batch.handing_over_upto
    return [
        Row(
            sid,
            email if utf8 else ascii_,
            name,
            utf8,
            key,
            did,
            attempts or 0,
            did is None and sid <= upto,
        )
        for sid, email, ascii_, name, utf8, key, did, attempts in rows
    ]


def retry_delay(attempts: int) -> float:
    """Exponential back-off with jitter for the `attempts`-th try of a batch."""
    base = setting("SEND_RETRY_BASE_SECONDS")
    delay = min(setting("SEND_RETRY_MAX_SECONDS"), base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def run_batch(batch_id: int, token: int | None = None) -> float | None:
    """Deliver batch `batch_id`; return a countdown if it must be tried again later.

    `token`: the claim an interrupted try of this task held, taken back at once. The
    database away (a dropped connection, refused connections) is waited for and the work
    resumes from the ledger (`_reaching`), or the task is retried (`Interrupted`); any other
    unexpected error is the batch's failure (`_fail_batch`): retried after a back-off,
    parked after `MAX_BATCH_FAILURES`.
    """
    batch = _reaching(lambda: claim_batch(batch_id, token), batch_id, token)
    if batch is None:
        return None
    send_id, lease = batch.send_id, Lease(batch_id, batch.attempts)
    hold(lease)  # the worker's lease keeper renews it while this task runs
    try:
        with (
            logs.bound(send=send_id),  # every line about this batch names its send
            metrics.batch_timer(TaskName.SEND_BATCH) as ending,  # its duration, by how it ended
        ):
            try:
                countdown = _reaching(lambda: _work(send_id, lease), batch_id, lease.token)
                ending["ended"] = "finished" if countdown is None else "deferred"
                return countdown
            except Interrupted:
                ending["ended"] = "deferred"  # retried soon, with its token
                raise
            except Exception as error:
                db.session.rollback()
                log.exception("batch %s failed", batch_id)
                failure = error
            ending["ended"] = "failed"
            return _reaching(lambda: _fail_batch(send_id, lease, failure), batch_id, lease.token)
    finally:
        let_go(lease)


def _work(send_id: int, lease: Lease) -> float | None:
    """Deliver the batch's readers not yet in the ledger (while the lease is ours)."""
    renewed = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    if not update_if_held(lease, lease_until=renewed):
        return None  # a retry after the batch was ended, released or taken over
    batch = db.session.get(SendBatch, lease.batch_id, populate_existing=True)
    send = db.session.execute(  # not the content: the template is cached per process
        select(Send.status, Send.newsletter_id).where(Send.id == send_id)
    ).one()
    if send.status != SendStatus.SENDING:
        release(lease, send.status)
        return None
    newsletter = db.session.get(Newsletter, send.newsletter_id)
    rate = newsletter.rate_limit_per_second or setting("SEND_RATE_LIMIT")
    template = _template(send_id)
    rows = _recipients(send_id, send.newsletter_id, batch)
    suppressed = suppression.suppressed_keys(r.email_key for r in rows)
    db.session.commit()
    ledger = Ledger(send_id)
    try:
        outcome = deliver_rows(ledger, lease, rows, suppressed, template, rate)
    finally:
        ledger.close()
    if outcome is None:
        return None
    return _finish_batch(send_id, lease, outcome)


def _fail_batch(send_id: int, lease: Lease, error: BaseException) -> float | None:
    """An unexpected error: retry the batch after a back-off, or park it as `failed`.

    A parked batch's readers not yet in the ledger fail there, with the batch's error.
    """
    batch = db.session.get(SendBatch, lease.batch_id, populate_existing=True)
    if batch.status != BatchStatus.RUNNING or batch.attempts != lease.token:
        log.warning("batch %s: another worker holds it now; its failure is not counted", batch.id)
        return None
    failures, text = batch.failures + 1, f"{type(error).__name__}: {error}"[:2000]
    if failures >= MAX_BATCH_FAILURES:
        parked = (
            update(SendBatch)
            .where(lease.held())
            .values(status=BatchStatus.FAILED, lease_until=None, failures=failures, error=text)
        )
        if db.session.execute(parked).rowcount != 1:
            db.session.rollback()
            return None
        reason = f"not sent: its batch was parked after {failures} failures: {text}"
        _end_unfinished(send_id, batch, reason)  # same commit as the batch's status
        db.session.commit()
        log.error("batch %s parked after %s failures: %s", batch.id, failures, text)
        finish_if_complete(send_id)
        return None
    delay = retry_delay(failures)
    until = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS") + delay)
    waiting = {"status": BatchStatus.WAITING, "lease_until": until}
    if not update_if_held(lease, failures=failures, error=text, **waiting):
        return None
    return delay


def parked_batches(send_id: int) -> list[dict]:
    """The send's parked batches (failed for an unexpected reason), for people to read."""
    return parked_batches_of([send_id])[send_id]


def parked_batches_of(send_ids: list[int]) -> dict[int, list[dict]]:
    """`parked_batches` of several sends in one query (a page of the list), by send id."""
    found: dict[int, list[dict]] = {send_id: [] for send_id in send_ids}
    if not send_ids:
        return found
    batches = db.session.scalars(
        select(SendBatch)
        .where(SendBatch.send_id.in_(send_ids), SendBatch.status == BatchStatus.FAILED)
        .order_by(SendBatch.id)
    )
    for b in batches:
        found[b.send_id].append(
            {
                "id": b.id,
                "readers_after_id": b.after_id,
                "readers_upto_id": b.upto_id,
                "failures": b.failures,
                "error": b.error,
            }
        )
    return found


def _finish_batch(send_id: int, lease: Lease, tally: Tally) -> float | None:
    """The batch went through its readers: retry its 4xx ones later, or it is done.

    Past the retry deadline it is done anyway: its readers still without a delivered
    message fail for good (`_end_unfinished`), in the same commit as the batch's status.
    """
    started_at = db.session.scalar(select(Send.started_at).where(Send.id == send_id))
    deadline = started_at + timedelta(seconds=setting("SEND_RETRY_DEADLINE_SECONDS"))
    if tally.transient:
        delay = retry_delay(lease.token)  # the token is the claim's attempt number
        if tally.unreachable:  # no answer at all: look again soon, it costs the relay nothing
            delay = min(delay, UNREACHABLE_RETRY_SECONDS * random.uniform(0.8, 1.2))
        if utcnow() + timedelta(seconds=delay) < deadline:
            until = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS") + delay)
            if not update_if_held(lease, status=BatchStatus.WAITING, lease_until=until):
                return None
            log.warning(
                "batch %s: %s deferred, retry in %.0fs; last answer: %s",
                lease.batch_id,
                tally.transient,
                delay,
                tally.last,
            )
            return delay
    done = update(SendBatch).where(lease.held()).values(status=BatchStatus.DONE, lease_until=None)
    if db.session.execute(done).rowcount != 1:
        db.session.rollback()
        return None
    if tally.transient:
        batch = db.session.get(SendBatch, lease.batch_id)
        _end_unfinished(send_id, batch, f"{NOT_TRIED}; last answer: {tally.last}")
    db.session.commit()
    log.info("batch %s done", lease.batch_id)  # its send's id: bound in run_batch
    finish_if_complete(send_id)
    return None


def _end_unfinished(send_id: int, batch: SendBatch, reason: str) -> None:
    """The batch ends for good: its readers not delivered fail, `reason` in the ledger.

    Still-queued rows (deferred) fail keeping the relay's last answer; confirmed readers of
    the batch without a row (the batch stopped before them) get a `failed` row saying
    `reason`. The send's `failed` counter goes up by as many, in the caller's transaction.
    """
    added = close_unreached(send_id, batch.after_id, batch.upto_id, DeliveryStatus.FAILED, reason)
    if added:
        log.warning(
            "send %s, batch %s: %s readers never tried: %s", send_id, batch.id, added, reason
        )

"""Deliver one batch: personalize each message, respect the rate limit, write the ledger.

A batch holds a lease (renewed every second while it works) and re-reads its send's status
as often, so pause and cancel take effect within seconds. Messages go out over the
process's connection pool (`relay`) with at most `2 * SEND_CONNECTIONS` per batch in flight
OR answered but not yet in the ledger: the answers that came back are written to the
delivery ledger (`Delivery`, unique per send and reader) in one commit before the batch
goes past that window, so a worker killed mid-batch re-sends at most the window.
Unsubscribe and preference tokens are minted by `signing.Minter` (one key derivation per
batch instead of one per token).

Failures, by kind:
- a 4xx (or a relay that cannot be reached) leaves the delivery `queued` and the batch is
  retried with exponential back-off and jitter until `SEND_RETRY_DEADLINE_SECONDS` after the
  send started; `SEND_MAX_CONSECUTIVE_FAILURES` of them in a row stop the batch early (the
  relay is down or throttling: the rest waits for the retry instead of failing one by one);
- a 5xx fails the delivery for good, marks the subscription bounced and suppresses the
  address; that many failures in a row pause the whole send, with the reason;
- a message that cannot be built from the reader's row fails alone (`failed`, the reason in
  the ledger's response) and the batch goes on;
- a database connection the server dropped is retried on a fresh connection, resuming from
  the ledger (`run_batch`);
- anything else fails the batch (every answer already back is written first); it is retried
  after a back-off and parked as `failed`, with the error, after `MAX_BATCH_FAILURES`. The
  rest of the send goes on; a send with a parked batch ends `failed`, naming it.

Nobody is missed without a word: when a batch ends for good (done after the retry deadline,
or parked) every confirmed reader of it without a ledger row gets a `failed` one with the
reason, in the same commit as the counters. (A cancelled send leaves the readers it never
reached without a row: its status says why.)

A claim's attempt number is the batch's fencing token (`Lease`): every later write of the
batch (lease renewal, release, retry, done, parked) applies only while the row still carries
that token. The batch checks its token once a second, just before handing a message over,
so also right after anything it waited for (the rate limit, a Redis or relay that was away).
A worker cut off past its lease (frozen, or its host off the network) that comes back finds
its token gone at that check and stops: it sends nothing more of that batch than what it
had in flight.
"""

from __future__ import annotations

import logging
import queue
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import DateTime, and_, exists, literal, or_, select, update

from service.database import retry_if_dropped
from service.extensions import db, insert_ignoring_conflicts
from service.leaving import suppression
from service.mail import RenderedEmail, newsletter_sender
from service.mail.errors import PermanentMailError, TransientMailError
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
from service.sending import (
    personalize,
    ratelimit,
    relay,
    setting,
    signing,
)
from service.sending.content import placeholders_of
from service.sending.ledger import Ledger
from service.sending.lifecycle import finish_if_complete, pause_send
from service.tokens import token_service

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0
MAX_BATCH_FAILURES = 3  # unexpected failures before a batch is parked as `failed`
LOST = "lease lost"  # what `_still_ours` says when another worker holds the batch now
NOT_TRIED = "not tried before the retry deadline (SEND_RETRY_DEADLINE_SECONDS)"


@dataclass(frozen=True)
class Lease:
    """Batch `batch_id` as claimed by this worker; `token` is the claim's attempt number."""

    batch_id: int
    token: int

    def held(self):
        """SQL: the batch row is still this claim's (running, with this token)."""
        return and_(
            SendBatch.id == self.batch_id,
            SendBatch.attempts == self.token,
            SendBatch.status == BatchStatus.RUNNING,
        )


@dataclass
class _Row:
    subscriber_id: int
    address: str
    name: str | None
    smtputf8: bool
    email_key: str
    delivery_id: int | None
    attempts: int


def claim_batch(batch_id: int) -> SendBatch | None:
    """Take the batch's lease if it is free (pending, waiting, or its worker died)."""
    now = utcnow()
    lease = timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    result = db.session.execute(
        update(SendBatch)
        .where(
            SendBatch.id == batch_id,
            or_(
                SendBatch.status.in_([BatchStatus.PENDING, BatchStatus.WAITING]),
                and_(SendBatch.status == BatchStatus.RUNNING, SendBatch.lease_until < now),
            ),
        )
        .values(
            status=BatchStatus.RUNNING, attempts=SendBatch.attempts + 1, lease_until=now + lease
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(SendBatch, batch_id, populate_existing=True)


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
    )


def _recipients(send_id: int, newsletter_id: int, batch: SendBatch) -> list[_Row]:
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
    return [
        _Row(sid, email if utf8 else ascii_, name, utf8, key, did, attempts or 0)
        for sid, email, ascii_, name, utf8, key, did, attempts in rows
    ]


def _bounce(ledger: Ledger, newsletter_id: int, row: _Row, response: str) -> None:
    """A permanent failure: the delivery fails, the subscription bounces, the address is suppressed."""
    suppression.record_bounce(row.subscriber_id, newsletter_id, row.email_key, response)
    _record(ledger, row, DeliveryStatus.BOUNCED, response)
    ledger.write()  # rare: written with the suppression, so a crash cannot turn it into a skip


def _record(ledger: Ledger, row: _Row, status: DeliveryStatus, response: str) -> None:
    ledger.add(
        row.subscriber_id,
        status,
        response,
        attempts=row.attempts + 1,
        delivery_id=row.delivery_id,
    )


def _set(lease: Lease, **values: object) -> bool:
    """Update the batch if this claim still holds it (and commit); False if it does not."""
    result = db.session.execute(
        update(SendBatch)
        .where(lease.held())
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _still_ours(ledger: Ledger, lease: Lease) -> str:
    """Write the answers back so far, renew the lease, and re-read the send's status.

    `LOST` if another worker holds the batch now (this one was cut off past its lease).
    """
    ledger.flush()
    status = db.session.scalar(select(Send.status).where(Send.id == ledger.send_id))
    renewed = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    return status if _set(lease, lease_until=renewed) else LOST


def _release(lease: Lease, send_status: str) -> None:
    """Stop working on the batch: back to pending if the send may resume, else cancelled."""
    resumable = send_status in (SendStatus.PAUSED, SendStatus.SENDING, SendStatus.SCHEDULED)
    status = BatchStatus.PENDING if resumable else BatchStatus.CANCELLED
    _set(lease, status=status, lease_until=utcnow())


def retry_delay(attempts: int) -> float:
    """Exponential back-off with jitter for the `attempts`-th try of a batch."""
    base = setting("SEND_RETRY_BASE_SECONDS")
    delay = min(setting("SEND_RETRY_MAX_SECONDS"), base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


def run_batch(batch_id: int) -> float | None:
    """Deliver batch `batch_id`; return a countdown if it must be tried again later.

    A database connection the server dropped mid-batch costs a retry here, on a fresh
    connection, resuming from the ledger (`retry_if_dropped`); any
    other unexpected error is the batch's failure (`_fail_batch`): retried after a back-off,
    parked after `MAX_BATCH_FAILURES`.
    """
    batch = retry_if_dropped(lambda: claim_batch(batch_id))
    if batch is None:
        return None
    send_id, lease = batch.send_id, Lease(batch_id, batch.attempts)
    try:
        return retry_if_dropped(lambda: _work(send_id, lease))
    except Exception as error:
        db.session.rollback()
        log.exception("batch %s failed", batch_id)
        failure = error
    return retry_if_dropped(lambda: _fail_batch(send_id, lease, failure))


def _work(send_id: int, lease: Lease) -> float | None:
    """Deliver the batch's readers not yet in the ledger (while the lease is ours)."""
    batch = db.session.get(SendBatch, lease.batch_id, populate_existing=True)
    if batch.status != BatchStatus.RUNNING or batch.attempts != lease.token:
        return None  # a retry after the batch was ended, released or taken over
    send = db.session.execute(  # not the content: the template is cached per process
        select(Send.status, Send.newsletter_id).where(Send.id == send_id)
    ).one()
    if send.status != SendStatus.SENDING:
        _release(lease, send.status)
        return None
    newsletter = db.session.get(Newsletter, send.newsletter_id)
    rate = newsletter.rate_limit_per_second or setting("SEND_RATE_LIMIT")
    template = _template(send_id)
    rows = _recipients(send_id, send.newsletter_id, batch)
    suppressed = suppression.suppressed_keys(r.email_key for r in rows)
    db.session.commit()
    ledger = Ledger(send_id)
    try:
        outcome = _deliver_rows(ledger, lease, rows, suppressed, template, rate)
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
    if not _set(lease, failures=failures, error=text, **waiting):
        return None
    return delay


def parked_batches(send_id: int) -> list[dict]:
    """The send's parked batches (failed for an unexpected reason), for people to read."""
    batches = db.session.scalars(
        select(SendBatch)
        .where(SendBatch.send_id == send_id, SendBatch.status == BatchStatus.FAILED)
        .order_by(SendBatch.id)
    )
    return [
        {
            "id": b.id,
            "readers_after_id": b.after_id,
            "readers_upto_id": b.upto_id,
            "failures": b.failures,
            "error": b.error,
        }
        for b in batches
    ]


def _deliver_rows(
    ledger: Ledger,
    lease: Lease,
    rows: list[_Row],
    suppressed: set[str],
    template: personalize.MessageTemplate,
    rate: float | None,
) -> _Tally | None:
    """Send to each row; return the tally (4xx answers), or None if the batch had to stop.

    At most `window` messages are in flight or answered-but-unwritten at any time: when
    that many are out, the batch waits until half the window came back and writes every
    answer it has in one commit, while the other half keeps the connections busy.
    Whatever stops the loop (an error included), every message handed to the relay is
    answered and written to the ledger before the batch ends, so none is sent twice.
    """
    send_id, newsletter_id = ledger.send_id, template.newsletter_id
    unsub = signing.Minter(token_service("unsubscribe"))
    prefs = signing.Minter(token_service("preferences"))
    connections = relay.pool()
    window = 2 * connections.size
    answers: queue.SimpleQueue[relay.Answer] = queue.SimpleQueue()
    in_flight: dict[int, _Row] = {}  # by subscriber id
    tally = _Tally(int(setting("SEND_MAX_CONSECUTIVE_FAILURES")))

    def take(block: bool = True) -> None:
        answer = answers.get(block)
        _answer(ledger, newsletter_id, in_flight.pop(answer.tag), answer, tally)

    checked = time.monotonic()
    stop: str | None = None
    try:
        for row in rows:
            if tally.unexpected is not None:
                break
            if row.email_key in suppressed:
                _record(ledger, row, DeliveryStatus.SKIPPED, "suppressed")
                continue
            try:
                message = personalize.personalize(
                    template,
                    send_id,
                    personalize.Recipient(
                        subscriber_id=row.subscriber_id,
                        address=row.address,
                        name=row.name,
                        smtputf8=row.smtputf8,
                        unsubscribe_token=unsub.dumps({"s": row.subscriber_id, "n": newsletter_id}),
                        preferences_token=prefs.dumps({"s": row.subscriber_id}),
                    ),
                )
            except Exception as error:  # this reader's data: the message fails alone
                _unbuildable(ledger, row, error, tally)
                continue
            ratelimit.acquire(f"newsletter:{newsletter_id}", rate)
            if len(in_flight) + ledger.unwritten >= window:
                # Let half the window come back, then write every answer back so far at once.
                while len(in_flight) > window // 2:
                    take()
                while not answers.empty():
                    take(block=False)
                ledger.write()
            # Checked last, just before the hand-over: whatever the steps above waited for
            # (the rate, a Redis or relay that was away), a batch no longer ours sends no more.
            if time.monotonic() - checked >= CHECK_EVERY_SECONDS:
                checked = time.monotonic()
                status = _still_ours(ledger, lease)
                if status != SendStatus.SENDING:
                    stop = status
                    break
            in_flight[row.subscriber_id] = row
            connections.submit(
                message, template.sender, row.address, row.smtputf8, answers, row.subscriber_id
            )
            if tally.too_many() or tally.deferring():
                break
    except BaseException:
        db.session.rollback()  # the session may be unusable (a dropped connection)
        raise
    finally:  # whatever happens next, every message handed over is recorded
        while in_flight:
            take()
        ledger.write()
    if tally.unexpected is not None:
        raise tally.unexpected
    if stop == LOST:
        log.warning("batch %s: another worker holds it now; stopping", lease.batch_id)
        return None
    if stop is None and tally.too_many():
        reason = f"{tally.in_a_row} failed deliveries in a row; last: {tally.last}"
        try:
            pause_send(send_id, reason)
        except Exception:  # already paused or cancelled by someone else
            db.session.rollback()
        stop = SendStatus.PAUSED
    if stop is not None:
        _release(lease, stop)
        return None
    return tally


@dataclass
class _Tally:
    """Failures in a row: refusals (5xx) pause the send, deferrals (4xx) defer the batch.

    Also counts 4xx answers, and keeps the first unexpected error (raised once every
    answer is written).
    """

    limit: int
    in_a_row: int = 0
    deferred_in_a_row: int = 0
    transient: int = 0
    last: str = ""
    unexpected: BaseException | None = None

    def too_many(self) -> bool:
        return self.in_a_row >= self.limit

    def deferring(self) -> bool:
        """The relay defers everything (down, or 421s): stop and retry the batch later."""
        return self.deferred_in_a_row >= self.limit


def _unbuildable(ledger: Ledger, row: _Row, error: BaseException, tally: _Tally) -> None:
    """A message that cannot be built for this reader fails alone, its reason in the ledger."""
    reason = f"message could not be built: {type(error).__name__}: {error}"
    log.warning("send %s, reader %s: %s", ledger.send_id, row.subscriber_id, reason)
    tally.in_a_row, tally.last = tally.in_a_row + 1, reason
    _record(ledger, row, DeliveryStatus.FAILED, reason)


def _answer(
    ledger: Ledger, newsletter_id: int, row: _Row, answer: relay.Answer, tally: _Tally
) -> None:
    """Record the relay's answer to one message (an unexpected error is kept in the tally)."""
    error = answer.error
    if isinstance(error, PermanentMailError):
        tally.in_a_row, tally.deferred_in_a_row = tally.in_a_row + 1, 0
        tally.last = str(error)
        _bounce(ledger, newsletter_id, row, str(error))
    elif isinstance(error, TransientMailError):
        tally.deferred_in_a_row += 1
        tally.last = str(error)
        tally.transient += 1
        _record(ledger, row, DeliveryStatus.QUEUED, str(error))
    elif isinstance(error, ValueError):  # the transport's envelope check: this reader's data
        _unbuildable(ledger, row, error, tally)
    elif error is not None:  # not this reader's: the batch fails, this reader is retried
        if tally.unexpected is None:
            tally.unexpected = error
    else:
        tally.in_a_row = tally.deferred_in_a_row = 0
        _record(ledger, row, DeliveryStatus.SENT, answer.result)


def _finish_batch(send_id: int, lease: Lease, tally: _Tally) -> float | None:
    """The batch went through its readers: retry its 4xx ones later, or it is done.

    Past the retry deadline it is done anyway: its readers still without a delivered
    message fail for good (`_end_unfinished`), in the same commit as the batch's status.
    """
    started_at = db.session.scalar(select(Send.started_at).where(Send.id == send_id))
    deadline = started_at + timedelta(seconds=setting("SEND_RETRY_DEADLINE_SECONDS"))
    if tally.transient:
        delay = retry_delay(lease.token)  # the token is the claim's attempt number
        if utcnow() + timedelta(seconds=delay) < deadline:
            until = utcnow() + timedelta(seconds=setting("SEND_LEASE_SECONDS") + delay)
            if not _set(lease, status=BatchStatus.WAITING, lease_until=until):
                return None
            log.info(
                "batch %s: %s deferred, retry in %.0fs", lease.batch_id, tally.transient, delay
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
    finish_if_complete(send_id)
    return None


def _end_unfinished(send_id: int, batch: SendBatch, reason: str) -> None:
    """The batch ends for good: its readers not delivered fail, `reason` in the ledger.

    Still-queued rows (deferred) fail keeping the relay's last answer; confirmed readers of
    the batch without a row (the batch stopped before them) get a `failed` row saying
    `reason`. The send's `failed` counter goes up by as many, in the caller's transaction.
    """
    in_batch = and_(
        Delivery.subscriber_id > batch.after_id, Delivery.subscriber_id <= batch.upto_id
    )
    deferred = db.session.execute(
        update(Delivery)
        .where(Delivery.send_id == send_id, Delivery.status == DeliveryStatus.QUEUED, in_batch)
        .values(status=DeliveryStatus.FAILED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    newsletter_id = select(Send.newsletter_id).where(Send.id == send_id).scalar_subquery()
    untried = select(
        literal(send_id),
        Subscription.subscriber_id,
        literal(DeliveryStatus.FAILED.value),
        literal(0),
        literal(reason[:1000]),
        literal(utcnow(), DateTime()),
    ).where(
        Subscription.newsletter_id == newsletter_id,
        Subscription.status == SubscriptionStatus.CONFIRMED,
        Subscription.subscriber_id > batch.after_id,
        Subscription.subscriber_id <= batch.upto_id,
        ~exists().where(
            Delivery.send_id == send_id, Delivery.subscriber_id == Subscription.subscriber_id
        ),
    )
    columns = ["send_id", "subscriber_id", "status", "attempts", "response", "updated_at"]
    added = db.session.execute(
        insert_ignoring_conflicts(Delivery).from_select(columns, untried)
    ).rowcount
    if deferred + added:  # in the same commit as the rows, like the ledger's own counters
        db.session.execute(
            update(Send).where(Send.id == send_id).values(failed=Send.failed + deferred + added)
        )
    if added:
        log.warning(
            "send %s, batch %s: %s readers never tried: %s", send_id, batch.id, added, reason
        )

"""The hot loop of a batch: personalize each message, respect the rate limit, write the ledger.

Messages go out over the process's connection pool (`relay`) with at most
`2 * SEND_CONNECTIONS` per batch in flight OR answered but not yet in the ledger: the
answers that came back are written to the delivery ledger (`Delivery`, unique per send and
reader) in one commit before the batch goes past that window, so a worker killed mid-batch
re-sends at most the window. Under a rate limit up to `WRITE_EACH_UP_TO_RATE` the batch
writes before every hand-over instead, bringing the mark down to the reader it is about to
send (`settle`), with at most `SLOW_IN_FLIGHT` (1) message out: a fault then costs at most
one possible duplicate per running batch, not a window (a commit per message is nothing at
a few hundred a second; the price is a relay far away: at 100 ms a message a batch sends 10
a second, so a limit above 10 x the running batches is not reached). Unsubscribe and preference tokens are minted by
`signing.Minter` (one key derivation per batch instead of one per token).

Just before handing a message over (so also right after anything it waited for: the rate
limit, a Redis or relay that was away) the loop checks that the batch is still its own (the
lease, renewed once a second, and at once after a write that waited for the database) and
that the send is still sending. The send's status comes
back with every ledger write at no cost (a write goes out every `SEND_CONNECTIONS` messages
at full speed) and is read again when it is older than `CHECK_EVERY_SECONDS`: a pause or a
cancel stops a batch within a window of messages (`2 * SEND_CONNECTIONS`) or 0.2 s.

Answers, by kind:
- a 4xx (or a relay that cannot be reached) leaves the delivery `queued`;
  `SEND_MAX_CONSECUTIVE_FAILURES` of them in a row stop the batch early (the relay is down
  or throttling: the rest waits for the batch's retry instead of failing one by one);
- a 5xx fails the delivery for good and is recorded as a feedback event, classed by its
  status code (`service.deliverability`: a 5.1.x suppresses the reader, a 5.7.x does not);
  that many failures in a row pause the whole send, with the reason, and so do the send's
  brakes (its bounce rate);
- a message that cannot be built from the reader's row fails alone (`failed`, the reason in
  the ledger's response) and the batch goes on;
- anything else is kept and raised once every answer is written (the batch's failure).
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass

from service.deliverability.classify import smtp_status
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.mail.errors import PermanentMailError, TransientMailError
from service.models import DeliveryStatus, SendStatus
from service.sending import brakes, personalize, ratelimit, relay, setting, signing
from service.sending.lease import LOST, Lease, release, still_ours
from service.sending.ledger import Ledger
from service.sending.lifecycle import pause_send
from service.tokens import token_service

log = logging.getLogger(__name__)

RENEW_EVERY_SECONDS = 1.0  # the lease is renewed (and the ledger written) this often
CHECK_EVERY_SECONDS = 0.2  # the send's status is at most this old at a hand-over
WRITE_EACH_UP_TO_RATE = 500  # at a rate limit up to this (messages/s), a write per message
SLOW_IN_FLIGHT = 1  # and at most this many of the batch's messages in flight


@dataclass
class Row:
    """One reader of the batch, with their ledger row if a retry finds one."""

    subscriber_id: int
    address: str
    name: str | None
    smtputf8: bool
    email_key: str
    delivery_id: int | None
    attempts: int
    maybe_twice: bool = False  # an earlier claim may have handed it over, unrecorded


HANDED_AGAIN = (DeliveryStatus.SENT, DeliveryStatus.QUEUED)  # outcomes of a second hand-over


def _bounce(ledger: Ledger, row: Row, error: PermanentMailError) -> None:
    """A permanent failure: the delivery fails for this send, and the refusal is a feedback
    event classed by its status code like any other (`service.deliverability`): 5.1.x
    suppresses the reader, 5.2.2 and unclear ones count as soft bounces, 5.7.x is about the
    sender (the reader stays). The send's brakes apply at once if it passed the limits."""
    response = str(error)
    outcome = record_feedback(
        FeedbackEvent(
            source="smtp",
            kind="bounce",
            provider_event_id=f"send-{ledger.send_id}-{row.subscriber_id}",
            status=smtp_status(error.code, error.response),
            diagnostic=response,
            send_id=ledger.send_id,
            subscriber_id=row.subscriber_id,
        )
    )
    _record(ledger, row, DeliveryStatus.BOUNCED, response)
    ledger.write()  # rare: written with the feedback, so a crash cannot turn it into a skip
    if outcome.brake is not None:
        brakes.apply(ledger.send_id)


def _record(
    ledger: Ledger, row: Row, status: DeliveryStatus, response: str, *, maybe_delivered=False
) -> None:
    """Buffer the reader's outcome; a possible duplicate if an earlier hand-over may have
    reached them, or if this one may have although its answer was lost (`maybe_delivered`:
    a later try would be the second copy)."""
    ledger.add(
        row.subscriber_id,
        status,
        response,
        attempts=row.attempts + 1,
        delivery_id=row.delivery_id,
        possible_duplicate=(row.maybe_twice and status in HANDED_AGAIN) or maybe_delivered,
    )


def deliver_rows(
    ledger: Ledger,
    lease: Lease,
    rows: list[Row],
    suppressed: set[str],
    template: personalize.MessageTemplate,
    rate: float | None,
) -> Tally | None:
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
    slow = bool(rate) and rate <= WRITE_EACH_UP_TO_RATE
    answers: queue.SimpleQueue[relay.Answer] = queue.SimpleQueue()
    in_flight: dict[int, Row] = {}  # by subscriber id
    tally = Tally(int(setting("SEND_MAX_CONSECUTIVE_FAILURES")))

    def take(block: bool = True) -> None:
        answer = answers.get(block)
        _answer(ledger, in_flight.pop(answer.tag), answer, tally)

    # Before any hand-over, the batch notes how far it may get before its next write.
    last = len(rows) - 1
    marked = rows[min(window - 1, last)].subscriber_id if rows else 0
    if rows:
        ledger.mark_handing_over(lease, marked)
        ledger.write()
    # Readers an earlier claim may have reached, from each row on: a mark never hides them.
    flagged_from = [0] * (len(rows) + 1)
    for i in range(last, -1, -1):
        flagged_from[i] = max(flagged_from[i + 1], rows[i].subscriber_id * rows[i].maybe_twice)

    def settle(index: int) -> None:
        """Write what came back, the mark down to this row (every earlier one is written or
        in flight): a fault now costs at most the messages on the wire."""
        nonlocal marked
        while not answers.empty():
            take(block=False)
        marked = rows[index].subscriber_id
        ledger.mark_handing_over(lease, max(marked, flagged_from[index]), settle=True)
        ledger.write()

    renewed = time.monotonic()  # the lease was claimed just now
    stop: str | None = None
    reached = 0  # rows before this one are handed over or recorded
    try:
        for index, row in enumerate(rows):
            reached = index
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
            if slow:  # a write per message costs little at this rate
                while len(in_flight) >= SLOW_IN_FLIGHT:  # not a queue in the pool: a fault
                    take()  # may cost what is submitted and not yet answered
                settle(index)
            elif len(in_flight) + ledger.unwritten >= window or row.subscriber_id > marked:
                # Let half the window come back, then write every answer back so far at once.
                while len(in_flight) > window // 2:
                    take()
                while not answers.empty():
                    take(block=False)
                # At most a window of hand-overs until the next write: note how far they go.
                marked = rows[min(index + window - 1, last)].subscriber_id
                ledger.mark_handing_over(lease, marked)
                ledger.write()
            # Checked last, just before the hand-over: whatever the steps above waited for
            # (the rate, a Redis or relay that was away), a batch no longer ours, paused or
            # cancelled sends no more. The status comes with each write (free), or is read.
            if ledger.recovered or time.monotonic() - renewed >= RENEW_EVERY_SECONDS:
                # After a write that waited for the database, at once: another worker may
                # have taken the batch over meanwhile.
                renewed, ledger.recovered = time.monotonic(), False
                status = still_ours(ledger, lease)
            else:
                status = ledger.send_status(max_age=CHECK_EVERY_SECONDS)
            if status != SendStatus.SENDING:
                stop = status
                break
            in_flight[row.subscriber_id] = row
            envelope = personalize.envelope_sender(template, send_id, row.subscriber_id)
            connections.submit(
                message, envelope, row.address, row.smtputf8, answers, row.subscriber_id
            )
            reached = index + 1
            if tally.too_many() or tally.deferring():
                break
    except BaseException:
        db.session.rollback()  # the session may be unusable (a dropped connection)
        raise
    finally:  # whatever happens next, every message handed over is recorded
        while in_flight:
            take()
        # With every hand-over recorded, the mark keeps only the readers an earlier claim
        # may have reached and this one did not (they stay possible duplicates).
        flagged = [r.subscriber_id for r in rows[reached:] if r.maybe_twice]
        ledger.mark_handing_over(lease, max(flagged, default=0), settle=True)
        ledger.write()
    if tally.unexpected is not None:
        raise tally.unexpected
    if stop == LOST:
        log.warning("batch %s: another worker holds it now; stopping", lease.batch_id)
        return None
    if stop is None and tally.too_many():
        reason = f"{tally.in_a_row} failed deliveries in a row; last: {tally.last}"
        try:
            pause_send(send_id, reason, wait=False)  # this batch is one that would wait
        except Exception:  # already paused or cancelled by someone else
            db.session.rollback()
        stop = SendStatus.PAUSED
    if stop is not None:
        release(lease, stop)
        return None
    return tally


@dataclass
class Tally:
    """Failures in a row: refusals (5xx) pause the send, deferrals (4xx) defer the batch.

    Also counts 4xx answers, and keeps the first unexpected error (raised once every
    answer is written).
    """

    limit: int
    in_a_row: int = 0
    deferred_in_a_row: int = 0
    transient: int = 0
    last: str = ""
    unreachable: bool = False  # the last deferral was no answer at all (refused, cut off)
    unexpected: BaseException | None = None

    def too_many(self) -> bool:
        return self.in_a_row >= self.limit

    def deferring(self) -> bool:
        """The relay defers everything (down, or 421s): stop and retry the batch later."""
        return self.deferred_in_a_row >= self.limit


def _unbuildable(ledger: Ledger, row: Row, error: BaseException, tally: Tally) -> None:
    """A message that cannot be built for this reader fails alone, its reason in the ledger."""
    reason = f"message could not be built: {type(error).__name__}: {error}"
    log.warning("send %s, reader %s: %s", ledger.send_id, row.subscriber_id, reason)
    tally.in_a_row, tally.last = tally.in_a_row + 1, reason
    _record(ledger, row, DeliveryStatus.FAILED, reason)


def _answer(ledger: Ledger, row: Row, answer: relay.Answer, tally: Tally) -> None:
    """Record the relay's answer to one message (an unexpected error is kept in the tally)."""
    error = answer.error
    if isinstance(error, PermanentMailError):
        tally.in_a_row, tally.deferred_in_a_row = tally.in_a_row + 1, 0
        tally.last = str(error)
        _bounce(ledger, row, error)
    elif isinstance(error, TransientMailError):
        tally.deferred_in_a_row += 1
        tally.last, tally.unreachable = str(error), error.code is None
        tally.transient += 1
        maybe = error.maybe_delivered
        _record(ledger, row, DeliveryStatus.QUEUED, str(error), maybe_delivered=maybe)
    elif isinstance(error, ValueError):  # the transport's envelope check: this reader's data
        _unbuildable(ledger, row, error, tally)
    elif error is not None:  # not this reader's: the batch fails, this reader is retried
        if tally.unexpected is None:
            tally.unexpected = error
    else:
        tally.in_a_row = tally.deferred_in_a_row = 0
        _record(ledger, row, DeliveryStatus.SENT, answer.result)

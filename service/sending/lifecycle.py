"""A send's status changes: pause, resume, cancel, and finishing when every batch is done.

Batches learn of a pause or a cancel within a few messages (`delivery`); an operator's pause
or cancel answers once they stopped, with final counters. A paused batch goes back to
`pending` and resuming publishes it again; a cancelled send's readers it never reached are
`skipped` in the ledger.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import case, exists, func, select, update

from service import audit, outbox
from service.extensions import db
from service.models import (
    BatchStatus,
    DeliveryStatus,
    Newsletter,
    Send,
    SendBatch,
    SendStatus,
    utcnow,
)
from service.sending.books import close_unreached, recount
from service.task_names import TaskName
from service.webhooks import events

log = logging.getLogger(__name__)

PAUSABLE = {SendStatus.SENDING, SendStatus.SCHEDULED}
CANCELLABLE = {SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.PAUSED}
STOP_WAIT_SECONDS = 5.0  # a pause or cancel waits at most this long for running batches
CANCELLED_REASON = "not sent: the send was cancelled"


SEND_PAUSED = audit.event("send.paused", "an operator paused a send")
SEND_RESUMED = audit.event("send.resumed", "an operator resumed a paused send")
SEND_CANCELLED = audit.event("send.cancelled", "an operator cancelled a send")


class InvalidTransition(ValueError):
    """The send's status does not allow this action (e.g. resuming a finished send)."""


def announce(send_id: int, event_type: str) -> None:
    """Queue a `send.*` event about the send as it stands in this transaction (commit it)."""
    row = db.session.execute(
        select(Send, Newsletter.slug)
        .join(Newsletter, Newsletter.id == Send.newsletter_id)
        .where(Send.id == send_id)
        .execution_options(populate_existing=True)
    ).one()
    send, slug = row

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    data = {
        "send_id": send.id,
        "newsletter": slug,
        "status": send.status,
        "reason": send.status_reason or None,
        "total": send.total,
        "sent": send.sent,
        "failed": send.failed,
        "started_at": iso(send.started_at),
        "finished_at": iso(send.finished_at),
    }
    events.emit(event_type, data)


def _transition(
    send_id: int,
    allowed: set[SendStatus],
    event: str | None = None,
    audited: tuple[str, audit.Actor | None] | None = None,
    **values: object,
) -> Send:
    """Move the send to `values` if its status is in `allowed`; the `send.*` webhook `event`
    and an operator's action (`audited`: event name and actor) are queued and logged in the
    same transaction."""
    result = db.session.execute(
        update(Send)
        .where(Send.id == send_id, Send.status.in_([s.value for s in allowed]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1 and event is not None:
        announce(send_id, event)
    if result.rowcount == 1 and audited:
        audit.record(audited[0], audited[1], f"send:{send_id}")
    db.session.commit()
    send = db.session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise LookupError(send_id)
    if result.rowcount != 1:
        raise InvalidTransition(f"send {send_id} is {send.status}")
    return send


def pause_send(
    send_id: int,
    reason: str = "paused by an operator",
    *,
    actor: audit.Actor | None = None,
    wait: bool = True,
) -> Send:
    """Pause a sending (or scheduled) send; its batches stop within a few messages. An
    operator's pause names them (`actor`) and is in the audit log; the service's own pauses
    are not.

    With `wait` (an operator's pause) it answers once the running batches have stopped
    (`wait_for_batches`), so the counters it returns are final.
    """
    send = _transition(
        send_id,
        PAUSABLE,
        events.SEND_PAUSED,
        audited=(SEND_PAUSED, actor),
        status=SendStatus.PAUSED,
        status_reason=reason,
    )
    if not wait:
        return send
    wait_for_batches(send_id)
    recount(send_id)
    return db.session.get(Send, send_id, populate_existing=True)


def cancel_send(send_id: int, *, actor: audit.Actor | None = None) -> Send:
    """Cancel a send for good; its batches stop within a few messages.

    It answers once the running batches have stopped (`wait_for_batches`): every reader the
    send never reached (no ledger row, or deferred) is then `skipped` in the ledger, and
    `finished_at` is after the last delivery, so the counters it returns are final.
    """
    _transition(
        send_id,
        CANCELLABLE,
        audited=(SEND_CANCELLED, actor),
        status=SendStatus.CANCELLED,
        status_reason="cancelled by an operator",
    )
    wait_for_batches(send_id)
    db.session.execute(
        update(SendBatch)
        .where(SendBatch.send_id == send_id, SendBatch.status != BatchStatus.DONE)
        .values(status=BatchStatus.CANCELLED)
    )
    upto = db.session.scalar(select(Send.max_subscriber_id).where(Send.id == send_id))
    if upto:  # started: its recipient set is fixed
        close_unreached(send_id, 0, upto, DeliveryStatus.SKIPPED, CANCELLED_REASON)
    db.session.execute(update(Send).where(Send.id == send_id).values(finished_at=utcnow()))
    db.session.commit()
    recount(send_id)
    return db.session.get(Send, send_id, populate_existing=True)


def wait_for_batches(send_id: int, timeout: float = STOP_WAIT_SECONDS) -> bool:
    """Wait until no batch of the send is running with a live lease; False if `timeout` passed.

    A batch learns of a pause or a cancel within a few messages and stops once its messages
    in flight are answered and written. A batch whose worker died (or hangs on a relay that
    does not answer) is not waited for beyond `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        running = db.session.scalar(
            select(func.count()).where(
                SendBatch.send_id == send_id,
                SendBatch.status == BatchStatus.RUNNING,
                SendBatch.lease_until > utcnow(),
            )
        )
        db.session.commit()
        if not running:
            return True
        if time.monotonic() >= deadline:
            log.warning(
                "send %s: %s batches still running after %.0f s",
                send_id,
                running,
                timeout,
                extra={"send_id": send_id},
            )
            return False
        time.sleep(0.02)


def resume_send(send_id: int, *, actor: audit.Actor | None = None) -> Send:
    """Resume a paused send: publish its unfinished batches, and its planner if needed."""
    send = db.session.get(Send, send_id)
    if send is None:
        raise LookupError(send_id)
    status = SendStatus.SENDING if send.started_at else SendStatus.SCHEDULED
    send = _transition(
        send_id, {SendStatus.PAUSED}, audited=(SEND_RESUMED, actor), status=status, status_reason=""
    )
    if status == SendStatus.SCHEDULED:
        return send
    batch_ids = db.session.scalars(
        select(SendBatch.id).where(
            SendBatch.send_id == send_id,
            SendBatch.status.in_([BatchStatus.PENDING, BatchStatus.WAITING]),
        )
    ).all()
    for batch_id in batch_ids:
        publish(TaskName.SEND_BATCH, batch_id)
    if (send.checkpoint_subscriber_id or 0) < (send.max_subscriber_id or 0):
        send.lease_until = None
        db.session.commit()
        publish(TaskName.PLAN_SEND, send_id)
    finish_if_complete(send_id)
    return db.session.get(Send, send_id, populate_existing=True)


def publish(task: str, item_id: int) -> None:
    """Publish `task(item_id)`; if the broker is down, the watchdog publishes it later."""
    try:
        outbox.publish_task(task, [item_id])
    except Exception as exc:  # broker down: the watchdog publishes it later
        log.warning("%s %s not published, the watchdog will: %s", task, item_id, exc)


def finish_if_complete(send_id: int) -> bool:
    """End the send once it is fully planned and every batch is done or parked; True if now.

    It ends `sent`, or `failed` if a batch was parked (its readers were not all tried).
    """
    ended = [BatchStatus.DONE, BatchStatus.FAILED]
    unfinished = exists().where(SendBatch.send_id == send_id, SendBatch.status.not_in(ended))
    parked = exists().where(SendBatch.send_id == send_id, SendBatch.status == BatchStatus.FAILED)
    reason = "a batch failed again and again: see its error (sends show)"
    result = db.session.execute(
        update(Send)
        .where(
            Send.id == send_id,
            Send.status == SendStatus.SENDING,
            Send.checkpoint_subscriber_id >= Send.max_subscriber_id,
            ~unfinished,
        )
        .values(
            status=case((parked, SendStatus.FAILED), else_=SendStatus.SENT),
            status_reason=case((parked, reason), else_=Send.status_reason),
            finished_at=utcnow(),
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        ended = db.session.scalar(select(Send.status).where(Send.id == send_id))
        failed = ended == SendStatus.FAILED
        announce(send_id, events.SEND_FAILED if failed else events.SEND_FINISHED)
    db.session.commit()
    if result.rowcount != 1:
        return False
    recount(send_id)
    log.info("send %s finished", send_id, extra={"send_id": send_id})
    return True

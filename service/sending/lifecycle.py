"""A send's status changes: pause, resume, cancel, and finishing when every batch is done.

Batches re-read the send's status every second, so a pause or cancel takes effect within
seconds; a paused batch goes back to `pending` and resuming publishes it again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import case, exists, select, update

from service import audit, outbox
from service.extensions import db
from service.models import BatchStatus, Newsletter, Send, SendBatch, SendStatus, utcnow
from service.sending.ledger import recount
from service.task_names import TaskName
from service.webhooks import events

log = logging.getLogger(__name__)

PAUSABLE = {SendStatus.SENDING, SendStatus.SCHEDULED}
CANCELLABLE = {SendStatus.SCHEDULED, SendStatus.SENDING, SendStatus.PAUSED}


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
    send_id: int, reason: str = "paused by an operator", *, actor: audit.Actor | None = None
) -> Send:
    """Pause a sending (or scheduled) send; its batches stop within seconds. An operator's
    pause names them (`actor`) and is in the audit log; the service's own pauses are not."""
    return _transition(
        send_id,
        PAUSABLE,
        events.SEND_PAUSED,
        audited=(SEND_PAUSED, actor),
        status=SendStatus.PAUSED,
        status_reason=reason,
    )


def cancel_send(send_id: int, *, actor: audit.Actor | None = None) -> Send:
    """Cancel a send for good; running batches stop within seconds."""
    _transition(
        send_id,
        CANCELLABLE,
        audited=(SEND_CANCELLED, actor),
        status=SendStatus.CANCELLED,
        finished_at=utcnow(),
        status_reason="cancelled by an operator",
    )
    db.session.execute(
        update(SendBatch)
        .where(SendBatch.send_id == send_id, SendBatch.status != BatchStatus.DONE)
        .values(status=BatchStatus.CANCELLED)
    )
    db.session.commit()
    recount(send_id)
    return db.session.get(Send, send_id, populate_existing=True)


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
    log.info("send %s finished", send_id)
    return True

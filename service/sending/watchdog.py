"""The watchdog: work whose lease ran out (its worker died) is handed to another worker.

Redis' `visibility_timeout` would redeliver a lost task only hours later; the leases in the
database say within `SEND_LEASE_SECONDS` that a batch or a planner has no live worker.
Claiming is a conditional update, so a batch published twice still runs once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from service.extensions import db
from service.models import BatchStatus, Send, SendBatch, SendStatus, utcnow
from service.sending import setting
from service.sending.lifecycle import publish
from service.task_names import TaskName

log = logging.getLogger(__name__)


def watchdog(limit: int = 1000) -> int:
    """Re-publish expired batches and planners of sending sends; return how many."""
    now = utcnow()
    lease = timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    batch_ids = db.session.scalars(
        select(SendBatch.id)
        .join(Send, Send.id == SendBatch.send_id)
        .where(
            Send.status == SendStatus.SENDING,
            SendBatch.status.in_([BatchStatus.PENDING, BatchStatus.RUNNING, BatchStatus.WAITING]),
            or_(SendBatch.lease_until.is_(None), SendBatch.lease_until < now),
        )
        .order_by(SendBatch.id)
        .limit(limit)
    ).all()
    planner_ids = db.session.scalars(
        select(Send.id).where(
            Send.status == SendStatus.SENDING,
            Send.checkpoint_subscriber_id < Send.max_subscriber_id,
            or_(Send.lease_until.is_(None), Send.lease_until < now),
        )
    ).all()
    if batch_ids:
        # A fresh publish lease, so the next tick does not send it again while it is queued.
        db.session.execute(
            update(SendBatch)
            .where(SendBatch.id.in_(batch_ids), SendBatch.status != BatchStatus.RUNNING)
            .values(lease_until=now + lease)
        )
    db.session.commit()
    for batch_id in batch_ids:
        log.warning("batch %s has no live worker: publishing it again", batch_id)
        publish(TaskName.SEND_BATCH, batch_id)
    for send_id in planner_ids:
        log.warning(
            "send %s planner has no live worker: publishing it again",
            send_id,
            extra={"send_id": send_id},
        )
        publish(TaskName.PLAN_SEND, send_id)
    return len(batch_ids) + len(planner_ids)

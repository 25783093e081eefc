"""The watchdog: work whose lease ran out (its worker died) is handed to another worker.

Redis' `visibility_timeout` would redeliver a lost task only hours later; the leases in the
database say within `SEND_LEASE_SECONDS` that a running batch or a planner has no live
worker. It runs in every worker's lease keeper (every half lease) and in beat's tick.

A batch waiting in the broker's queue has a longer lease (`QUEUED_LEASE_SECONDS`: a long
queue is not re-published over and over), so a broker that lost its queue (Redis restarted
empty) is noticed instead: a marker key kept in the broker's database is gone, and every
pending batch of a sending send is published again at once, then the marker set again. So
is every pending batch when a running one's lease ran out: its dead worker may have
reserved queued batches too (Redis gives them back only after `visibility_timeout`).
Claiming is a conditional update, so a batch published twice still runs once.

A running batch is taken over only when this process saw the same expired lease twice, a
quarter lease apart (`_confirmed`): right after a database outage every lease has run out,
and its live holder gets that long to renew it before anybody else claims the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from functools import cache

import redis
from flask import current_app
from sqlalchemy import or_, select, update

from service import outbox
from service.extensions import db
from service.models import BatchStatus, Send, SendBatch, SendStatus, utcnow
from service.sending import setting
from service.task_names import TaskName

log = logging.getLogger(__name__)

QUEUED_LEASE_SECONDS = 60  # a batch published to the broker is trusted to be queued this long
MARKER = "newsletter:broker-marker"  # in the broker's database: gone if it lost its queues
_suspects: dict[int, tuple[datetime, float]] = {}  # batch id -> (expired lease, first seen)
_suspects_lock = threading.Lock()


def _confirmed(expired: list[tuple[int, datetime]]) -> set[int]:
    """The running batches in `expired` (id, lease) seen with that same lease a quarter
    lease ago or more: their holder had that long to renew and did not."""
    now, wait = time.monotonic(), setting("SEND_LEASE_SECONDS") / 4
    with _suspects_lock:
        seen = {b: _suspects[b] for b, lease in expired if _suspects.get(b, (None,))[0] == lease}
        _suspects.clear()
        _suspects.update({b: seen.get(b, (lease, now)) for b, lease in expired})
    return {b for b, (_, first) in seen.items() if now - first >= wait}


def queued_until():
    """The lease of a batch just published to the broker."""
    return utcnow() + timedelta(seconds=QUEUED_LEASE_SECONDS)


@cache
def _broker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _broker_lost_queue() -> redis.Redis | None:
    """The broker's client if it is Redis and its marker is gone (restarted empty, or never
    marked), else None (not Redis, marked, or unreachable: asked again next time)."""
    url = current_app.config.get("CELERY_BROKER_URL") or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    client = _broker(url)
    try:
        return None if client.exists(MARKER) else client
    except redis.RedisError:
        return None


def watchdog(limit: int = 1000) -> int:
    """Re-publish expired batches and planners of sending sends (and every pending batch if
    the broker lost its queue); return how many were published."""
    now = utcnow()
    emptied = _broker_lost_queue()
    expired = or_(SendBatch.lease_until.is_(None), SendBatch.lease_until < now)
    sending = select(SendBatch.id, SendBatch.status, SendBatch.lease_until)
    sending = sending.join(Send, Send.id == SendBatch.send_id)
    sending = sending.where(Send.status == SendStatus.SENDING)
    found = db.session.execute(
        sending.where(
            SendBatch.status.in_([BatchStatus.PENDING, BatchStatus.RUNNING, BatchStatus.WAITING]),
            expired,
        )
        .order_by(SendBatch.id)
        .limit(limit)
    ).all()
    dead = _confirmed([(b, lease) for b, status, lease in found if status == BatchStatus.RUNNING])
    batch_ids = [b for b, status, _ in found if status != BatchStatus.RUNNING or b in dead]
    if emptied is not None or dead:
        queued = sending.where(SendBatch.status == BatchStatus.PENDING, ~expired)
        batch_ids += db.session.scalars(
            select(queued.subquery().c.id).limit(max(0, limit - len(batch_ids)))
        ).all()
    planner_ids = db.session.scalars(
        select(Send.id).where(
            Send.status == SendStatus.SENDING,
            Send.checkpoint_subscriber_id < Send.max_subscriber_id,
            or_(Send.lease_until.is_(None), Send.lease_until < now),
        )
    ).all()
    db.session.commit()
    published = [b for b in batch_ids if _publish(TaskName.SEND_BATCH, b, "batch")]
    if published:
        # A fresh queued lease, so the next round does not send them again while queued.
        db.session.execute(
            update(SendBatch)
            .where(SendBatch.id.in_(published), SendBatch.status != BatchStatus.RUNNING)
            .values(lease_until=queued_until())
        )
        db.session.commit()
    planners = [s for s in planner_ids if _publish(TaskName.PLAN_SEND, s, "send planner")]
    if emptied is not None and len(published) == len(batch_ids):
        try:
            emptied.set(MARKER, "1")
            if batch_ids:
                log.warning("the broker lost its queue: %s batches published again", len(batch_ids))
        except redis.RedisError:
            pass
    return len(published) + len(planners)


def _publish(task: str, item_id: int, what: str) -> bool:
    """Publish `task(item_id)`; False if the broker refused (the next round tries again)."""
    try:
        outbox.publish_task(task, [item_id])
    except Exception as error:
        log.warning("%s %s not published again (broker down?): %s", what, item_id, error)
        return False
    extra = {"send_id": item_id} if task == TaskName.PLAN_SEND else {}
    log.warning("%s %s has no live worker (or queue): publishing it again", what, item_id,
                extra=extra)  # fmt: skip
    return True

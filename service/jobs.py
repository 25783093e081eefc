"""Background work handed to Celery, by task name, through the database outbox.

Services call `add_job` inside their transaction, commit, then `hand_over` the jobs. If the
broker is down the rows stay `pending`, and `relay_due` (run by beat) hands them over later.
A task claims its row before doing the work (`claim`), so a job handed over twice runs once.
Services never import `tasks/`: this module is the only bridge to Celery.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from service.extensions import db
from service.mail.errors import TransientMailError
from service.models import JobStatus, OutboxJob, utcnow

log = logging.getLogger(__name__)

# After a failed publish, skip direct hand-over for a while so signups stay fast.
_broker_down_until = 0.0
BROKER_BACKOFF_SECONDS = 5.0
REDISPATCH_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 8


def add_job(task: str, payload: dict[str, Any]) -> OutboxJob:
    """Add a job to the current transaction; hand it over with `hand_over` after the commit.

    The relay leaves the job alone for `REDISPATCH_AFTER` (the direct hand-over is expected
    to work); if the hand-over fails, the job becomes due for the relay at once.
    """
    job = OutboxJob(task=task, payload=payload, available_at=utcnow() + REDISPATCH_AFTER)
    db.session.add(job)
    return job


def send_task(task: str, args: Iterable[Any] = (), **options: Any) -> None:
    """Publish a Celery task by name (no outbox), failing fast if the broker is down."""
    celery = current_app.extensions["celery"]
    celery.send_task(task, args=list(args), retry=False, **options)


def hand_over(jobs: Iterable[OutboxJob | int], task: str | None = None) -> int:
    """Publish committed jobs now; return how many reached the broker.

    Jobs that could not be published are made due at once, so the relay retries them.
    """
    global _broker_down_until
    pending = [(job, task) if isinstance(job, int) else (job.id, job.task) for job in jobs]
    published = 0
    if time.monotonic() >= _broker_down_until:
        for job_id, job_task in pending:
            try:
                send_task(job_task, [job_id])
            except Exception as exc:  # any broker error: the relay will retry
                _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
                log.warning("broker unavailable, job %s stays in the outbox: %s", job_id, exc)
                break
            published += 1
    missed = [job_id for job_id, _ in pending[published:]]
    if missed:
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(missed), OutboxJob.status == JobStatus.PENDING)
            .values(available_at=utcnow())
        )
        db.session.commit()
    return published


def relay_due(limit: int = 500) -> int:
    """Hand over jobs that missed the broker, and re-dispatch ones a dead worker left running."""
    global _broker_down_until
    _broker_down_until = 0.0
    now = utcnow()
    due = db.session.scalars(
        select(OutboxJob)
        .where(
            or_(
                (OutboxJob.status == JobStatus.PENDING) & (OutboxJob.available_at <= now),
                (OutboxJob.status == JobStatus.RUNNING)
                & (OutboxJob.dispatched_at < now - REDISPATCH_AFTER),
            )
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    ).all()
    for job in due:
        job.status = JobStatus.PENDING
        job.available_at = now + REDISPATCH_AFTER
    db.session.commit()
    return hand_over(due)


def claim(job_id: int) -> OutboxJob | None:
    """Mark the job running if nobody else has; return it, or None if it is not ours to run."""
    result = db.session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == job_id,
            OutboxJob.status == JobStatus.PENDING,
        )
        .values(status=JobStatus.RUNNING, attempts=OutboxJob.attempts + 1, dispatched_at=utcnow())
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(OutboxJob, job_id)


def run_job(job_id: int, work: Callable[[dict[str, Any]], None]) -> bool:
    """Claim job `job_id` and run `work(payload)`; record the outcome. True if it ran."""
    job = claim(job_id)
    if job is None:
        return False
    try:
        work(job.payload)
    except TransientMailError as exc:
        db.session.rollback()
        job = db.session.get(OutboxJob, job_id)
        if job.attempts >= MAX_ATTEMPTS:
            _finish(job, JobStatus.FAILED, str(exc))
        else:
            delay = min(3600, 30 * 2 ** (job.attempts - 1)) * random.uniform(0.8, 1.2)
            job.status = JobStatus.PENDING
            job.available_at = utcnow() + timedelta(seconds=delay)
            job.last_error = str(exc)[:1000]
            db.session.commit()
        return True
    except Exception as exc:
        db.session.rollback()
        _finish(db.session.get(OutboxJob, job_id), JobStatus.FAILED, repr(exc))
        raise
    _finish(db.session.get(OutboxJob, job_id), JobStatus.DONE, "")
    return True


def _finish(job: OutboxJob, status: JobStatus, error: str) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.last_error = error[:1000]
    db.session.commit()

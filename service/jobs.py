"""Background work handed to Celery, by task name, through the database outbox.

Services call `add_job` inside their transaction, commit, then `hand_over` the jobs (or, on
the signup hot path, `hand_over_soon`: a background thread of the web process publishes them
a moment later, many jobs per Celery message when signups come fast). If the broker is down
the rows stay `pending`, and `relay_due` (run by beat) hands them over later. A task message
carries a list of job ids; a task claims each row before doing the work (`claim`), so a job
handed over twice runs once. Services never import `tasks/`: this module is the only bridge
to Celery.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from service.database import is_dropped, once_more_if_dropped
from service.extensions import db
from service.mail.errors import TransientMailError
from service.models import JobStatus, OutboxJob, utcnow

log = logging.getLogger(__name__)

# After a failed publish, skip direct hand-over for a while so signups stay fast.
_broker_down_until = 0.0
BROKER_BACKOFF_SECONDS = 5.0
REDISPATCH_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 8
JOBS_PER_MESSAGE = 50  # small enough that a backlog spreads over every worker
HAND_OVER_LINGER_SECONDS = 0.1  # how long the courier gathers jobs before publishing


def add_job(task: str, payload: dict[str, Any]) -> OutboxJob:
    """Add a job to the current transaction; hand it over with `hand_over` after the commit.

    The relay leaves the job alone for `REDISPATCH_AFTER` (the direct hand-over is expected
    to work); if the hand-over fails, the job becomes due for the relay at once.
    """
    job = OutboxJob(task=task, payload=payload, available_at=utcnow() + REDISPATCH_AFTER)
    db.session.add(job)
    return job


def send_task(task: str, args: Iterable[Any] = (), **options: Any) -> None:
    """Publish a Celery task by name (no outbox), failing fast if the broker is down.

    Arguments here are ids, so their plain repr is what logs and monitors show; Celery's own
    size-limited repr costs a quarter of a publish.
    """
    celery = current_app.extensions["celery"]
    args = list(args)
    celery.send_task(task, args=args, argsrepr=repr(args), retry=False, **options)


def hand_over(jobs: Iterable[OutboxJob | int], task: str | None = None) -> int:
    """Publish committed jobs now, a few per message; return how many reached the broker.

    Jobs that could not be published are made due at once, so the relay retries them.
    """
    global _broker_down_until
    by_task: dict[str, list[int]] = defaultdict(list)
    for job in jobs:
        job_id, job_task = (job, task) if isinstance(job, int) else (job.id, job.task)
        by_task[job_task].append(job_id)
    published, missed = 0, []
    for job_task, ids in by_task.items():
        for start in range(0, len(ids), JOBS_PER_MESSAGE):
            chunk = ids[start : start + JOBS_PER_MESSAGE]
            if time.monotonic() < _broker_down_until:
                missed += chunk
                continue
            try:
                send_task(job_task, [chunk])
            except Exception as exc:  # any broker error: the relay will retry
                _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
                log.warning("broker unavailable, jobs %s stay in the outbox: %s", chunk, exc)
                missed += chunk
                continue
            published += len(chunk)
    if missed:
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(missed), OutboxJob.status == JobStatus.PENDING)
            .values(available_at=utcnow())
        )
        db.session.commit()
    return published


class _Courier:
    """A background thread of this process that hands committed jobs over to the broker.

    The request that queued a job answers at once; the thread waits a few milliseconds for
    more, then publishes every job queued so far together, so under load one Celery message
    carries many jobs. A job the thread never reaches (the process died) is still in the
    outbox: the relay re-dispatches it after `REDISPATCH_AFTER`.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Flask, str, int]] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()
        self._unfinished = 0
        self._finished = threading.Condition()

    def put(self, task: str, job_id: int) -> None:
        """Queue job `job_id` of `task` (committed) for hand-over by the thread."""
        if self._pid != os.getpid():  # first use in this process (or after a fork)
            with self._lock:
                if self._pid != os.getpid():
                    self._queue, self._unfinished = queue.SimpleQueue(), 0
                    threading.Thread(target=self._run, name="outbox-courier", daemon=True).start()
                    self._pid = os.getpid()
        with self._finished:
            self._unfinished += 1
        self._queue.put((current_app._get_current_object(), task, job_id))

    def wait(self, timeout: float) -> bool:
        """Wait until every queued job was handled; False on timeout."""
        with self._finished:
            return self._finished.wait_for(lambda: self._unfinished == 0, timeout)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            time.sleep(HAND_OVER_LINGER_SECONDS)  # let more jobs join this message
            while not self._queue.empty():
                items.append(self._queue.get())
            by_task: dict[tuple[Flask, str], list[int]] = defaultdict(list)
            for app, task, job_id in items:
                by_task[app, task].append(job_id)
            for (app, task), ids in by_task.items():
                with app.app_context():
                    try:
                        hand_over(ids, task)
                    except Exception:  # the jobs stay in the outbox for the relay
                        log.exception("hand-over of %s jobs failed", len(ids))
                    finally:
                        db.session.remove()
            with self._finished:
                self._unfinished -= len(items)
                self._finished.notify_all()


_courier = _Courier()
# A process that exits (a deploy, gunicorn's max-requests) first lets the courier finish.
atexit.register(_courier.wait, 2.0)


def hand_over_soon(job_id: int, task: str) -> None:
    """Hand a committed job over from a background thread; returns at once."""
    _courier.put(task, job_id)


def wait_for_hand_over(timeout: float = 5.0) -> bool:
    """Wait until every job queued by `hand_over_soon` was handed over (for tests and tools)."""
    return _courier.wait(timeout)


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


def run_jobs(job_ids: int | list[int], work: Callable[[dict[str, Any]], None]) -> int:
    """Run each job of a task message (one id, or a list); return how many ran here."""
    ids = [job_ids] if isinstance(job_ids, int) else job_ids
    return sum(run_job(job_id, work) for job_id in ids)


def run_job(job_id: int, work: Callable[[dict[str, Any]], None]) -> bool:
    """Claim job `job_id` and run `work(payload)`; record the outcome. True if it ran.

    Each step (the claim, the work, the bookkeeping) runs once more on a fresh connection if
    the database dropped its connection (`service.database`); a job whose work lost its
    connection again goes back to pending, claimable at once.
    """
    job = once_more_if_dropped(lambda: claim(job_id))
    if job is None:
        return False
    payload = job.payload
    try:
        once_more_if_dropped(lambda: work(payload))
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
        if is_dropped(exc):
            log.warning("job %s lost its database connection; it is pending again", job_id)
            once_more_if_dropped(lambda error=exc: _release(job_id, error))
            return False
        _finish(db.session.get(OutboxJob, job_id), JobStatus.FAILED, repr(exc))
        raise
    once_more_if_dropped(lambda: _finish(db.session.get(OutboxJob, job_id), JobStatus.DONE, ""))
    return True


def _release(job_id: int, error: BaseException) -> None:
    """Put a running job back to pending, due now (its worker could not finish it)."""
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.PENDING, available_at=utcnow(), last_error=str(error)[:1000])
    )
    db.session.commit()


def _finish(job: OutboxJob, status: JobStatus, error: str) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.last_error = error[:1000]
    db.session.commit()

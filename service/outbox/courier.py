"""The outbox's courier: committed jobs are put on the broker, a few per message.

Publishing happens on a background thread of the process (the courier), which gathers the
jobs of a few milliseconds into one message, so a request never waits for the broker. If the
broker is down the rows stay `pending` and beat's `sweep` publishes them later: the row, not
the message, is what makes the work durable. A message carries only job ids.

Words: to *publish* is to put a message on the broker; to *sweep* is beat's publishing of
the rows whose message was lost or never sent.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from service import logs
from service.extensions import db
from service.models import JobStatus, OutboxJob, utcnow

log = logging.getLogger(__name__)

# A published job is left alone by the sweep this long (its message is expected to arrive).
REPUBLISH_AFTER = timedelta(minutes=5)
# After a failed publish, skip publishing for a while so requests stay fast.
BROKER_BACKOFF_SECONDS = 5.0
JOBS_PER_MESSAGE = 50  # small enough that a backlog spreads over every worker
LINGER_SECONDS = 0.1  # how long the courier gathers jobs before publishing

_JOBS = OutboxJob.__table__
_broker_down_until = 0.0


def publish_task(task: str, args: Iterable[Any] = (), **options: Any) -> None:
    """Publish a Celery task by name, with no outbox row, failing fast if the broker is down.

    For work whose state is a row of its own (a send, a batch) that a watchdog re-publishes.
    Arguments are ids, so their plain repr is what logs and monitors show (Celery's own
    size-limited repr costs a quarter of a publish).
    """
    args = list(args)
    if current_app.config.get("JOBS_RUN_INLINE"):
        _run_inline(task, args)
        return
    celery = current_app.extensions["celery"]
    celery.send_task(task, args=args, argsrepr=repr(args), retry=False, **options)


def _run_inline(task: str, args: list[Any]) -> None:
    """Run a task in this process (`JOBS_RUN_INLINE`: tests and tools without a worker),
    with no request id of the caller's: a job gets only the one it stored, as on a worker."""
    celery = current_app.extensions["celery"]
    celery.loader.import_default_modules()
    with logs.detached():
        celery.tasks[task].apply(args=args, throw=True)


def publish(job_ids: Iterable[int], task: str) -> int:
    """Publish committed jobs of `task` now, a few per message; how many reached the broker.

    Jobs that could not be published are made due at once, so the sweep retries them.
    """
    global _broker_down_until
    ids = list(job_ids)
    published, missed = 0, []
    for start in range(0, len(ids), JOBS_PER_MESSAGE):
        chunk = ids[start : start + JOBS_PER_MESSAGE]
        if time.monotonic() < _broker_down_until:
            missed += chunk
            continue
        try:
            publish_task(task, [chunk])
        except Exception as exc:  # any broker error: the sweep will retry
            _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
            log.warning("broker unavailable, jobs %s stay in the outbox: %s", chunk, exc)
            missed += chunk
            continue
        published += len(chunk)
    if missed:
        with db.engine.begin() as conn:
            conn.execute(
                update(_JOBS)
                .where(_JOBS.c.id.in_(missed), _JOBS.c.status == JobStatus.PENDING)
                .values(available_at=utcnow())
            )
    return published


class _Courier:
    """A background thread of this process that publishes committed jobs.

    The request that queued a job answers at once; the thread waits a few milliseconds for
    more, then publishes every job queued so far together, so under load one Celery message
    carries many jobs. A job the thread never reaches (the process died) is still in the
    outbox: the sweep publishes it after `REPUBLISH_AFTER`.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Flask, str, int]] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()
        self._unfinished = 0
        self._finished = threading.Condition()

    def put(self, task: str, job_id: int) -> None:
        """Queue job `job_id` of `task` (committed) for the thread to publish."""
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
            time.sleep(LINGER_SECONDS)  # let more jobs join this message
            while not self._queue.empty():
                items.append(self._queue.get())
            by_task: dict[tuple[Flask, str], list[int]] = defaultdict(list)
            for app, task, job_id in items:
                by_task[app, task].append(job_id)
            for (app, task), ids in by_task.items():
                with app.app_context():
                    try:
                        publish(ids, task)
                    except Exception:  # the jobs stay in the outbox for the sweep
                        log.exception("publishing %s jobs failed", len(ids))
            with self._finished:
                self._unfinished -= len(items)
                self._finished.notify_all()


_courier = _Courier()
# A process that exits (a deploy, gunicorn's max-requests) first lets the courier finish.
atexit.register(_courier.wait, 2.0)


def publish_soon(job_id: int, task: str) -> None:
    """Publish a committed job from the courier thread; returns at once."""
    if current_app.config.get("JOBS_RUN_INLINE"):
        _run_inline(task, [[job_id]])
        return
    _courier.put(task, job_id)


def wait_for_publish(timeout: float = 5.0) -> bool:
    """Wait until every job queued by `publish_soon` was published (for tests and tools)."""
    return _courier.wait(timeout)


def sweep(limit: int = 500) -> int:
    """Publish jobs that missed the broker, and jobs a dead worker left running; how many."""
    global _broker_down_until
    _broker_down_until = 0.0
    now = utcnow()
    with db.engine.begin() as conn:
        due = conn.execute(
            select(_JOBS.c.id, _JOBS.c.task)
            .where(
                or_(
                    (_JOBS.c.status == JobStatus.PENDING) & (_JOBS.c.available_at <= now),
                    (_JOBS.c.status == JobStatus.RUNNING)
                    & (_JOBS.c.dispatched_at < now - REPUBLISH_AFTER),
                )
            )
            .order_by(_JOBS.c.id)
            .limit(limit)
        ).all()
        if due:
            conn.execute(
                update(_JOBS)
                .where(_JOBS.c.id.in_([row.id for row in due]))
                .values(status=JobStatus.PENDING, available_at=now + REPUBLISH_AFTER)
            )
    by_task: dict[str, list[int]] = defaultdict(list)
    for row in due:
        by_task[row.task].append(row.id)
    return sum(publish(ids, task) for task, ids in by_task.items())

"""The outbox: background work is written to the database first, then published to Celery.

This module is the only writer and claimer of outbox rows. A service calls `enqueue` inside
its transaction and commits; the job is published after the commit (a session `after_commit`
hook, or the end of `transaction()` for Core work), never before, so a task never looks for
a row that is not there. Publishing happens on a background thread of the process (the
courier), which gathers the jobs of a few milliseconds into one message, so a request never
waits for the broker. If the broker is down the rows stay `pending` and beat's `sweep`
publishes them later: the row, not the message, is what makes the work durable.

A message carries only job ids. The task claims each row before doing the work (`claim`),
so a job published twice runs once. Services never import `tasks/`: they enqueue by name
(`service.task_names`), and this module is their only bridge to Celery.

Words: to *publish* is to put a message on the broker; to *sweep* is beat's publishing of
the rows whose message was lost or never sent.
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, bindparam, event, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from service.database import is_dropped, once_more_if_dropped
from service.extensions import db
from service.mail.errors import TransientMailError
from service.models import JobStatus, OutboxJob, utcnow
from service.prepared import Prepared, raw_transaction

log = logging.getLogger(__name__)

# A published job is left alone by the sweep this long (its message is expected to arrive).
REPUBLISH_AFTER = timedelta(minutes=5)
# After a failed publish, skip publishing for a while so requests stay fast.
BROKER_BACKOFF_SECONDS = 5.0
MAX_ATTEMPTS = 8
JOBS_PER_MESSAGE = 50  # small enough that a backlog spreads over every worker
LINGER_SECONDS = 0.1  # how long the courier gathers jobs before publishing

_JOBS = OutboxJob.__table__
_QUEUED = "outbox.queued"  # session.info / connection.info: (task, id) to publish on commit
_ADDED = "outbox.added"  # session.info: jobs added, not flushed yet
_broker_down_until = 0.0


# -- enqueue: write the row, publish after the commit -------------------------------------


def _new_row(task: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "task": task,
        "payload": payload,
        "status": JobStatus.PENDING,
        "attempts": 0,
        "available_at": now + REPUBLISH_AFTER,
        "last_error": "",
        "created_at": now,
    }


def enqueue(task: str, payload: dict[str, Any]) -> OutboxJob:
    """Add a job to the session's transaction; it is published once that transaction commits."""
    job = OutboxJob(**_new_row(task, payload, utcnow()))
    db.session.add(job)
    db.session.info.setdefault(_ADDED, []).append(job)
    return job


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context: Any) -> None:
    """Jobs have their ids once flushed: remember them for the commit (no SQL may run then)."""
    added = session.info.get(_ADDED)
    if not added:
        return
    queued = session.info.setdefault(_QUEUED, [])
    queued += [(job.task, job.id) for job in added if job.id is not None]
    session.info[_ADDED] = [job for job in added if job.id is None]


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    for task, job_id in session.info.pop(_QUEUED, ()):
        publish_soon(job_id, task)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_QUEUED, None)
    session.info.pop(_ADDED, None)


@contextmanager
def transaction() -> Iterator[Connection]:
    """A Core transaction on the app's database; jobs it enqueued are published after its commit."""
    queued: list[tuple[str, int]] = []
    with db.engine.begin() as conn:
        conn.info[_QUEUED] = queued
        try:
            yield conn
        finally:
            conn.info.pop(_QUEUED, None)
    for task, job_id in queued:
        publish_soon(job_id, task)


_INSERT = insert(_JOBS).returning(_JOBS.c.id)


def enqueue_on(conn: Connection, task: str, payload: dict[str, Any], now: datetime) -> int:
    """Add a job inside `transaction()`; its id. It is published after that transaction commits."""
    job_id = conn.scalar(_INSERT, _new_row(task, payload, now))
    conn.info[_QUEUED].append((task, job_id))
    return job_id


def _param(name: str) -> Any:
    return bindparam(name, type_=_JOBS.c[name].type)


_INSERT_ONE = (
    _JOBS.insert()
    .values(
        task=_param("task"),
        payload=_param("payload"),
        status=literal(JobStatus.PENDING.value),
        attempts=literal(0),
        available_at=_param("available_at"),
        last_error=literal(""),
        created_at=_param("created_at"),
    )
    .returning(_JOBS.c.id)
)
_PREPARED: dict[str, Prepared] = {}


def enqueue_now(task: str, payload: dict[str, Any], now: datetime | None = None) -> int:
    """Store one job in a transaction of its own and publish it soon; its id.

    The whole database work of a signup request: one INSERT compiled once per dialect and run
    on the driver (`service.prepared`), in autocommit on PostgreSQL (one round trip).
    """
    engine = db.engine
    if engine.dialect.name not in _PREPARED:
        _PREPARED[engine.dialect.name] = Prepared(_INSERT_ONE, engine.dialect)
    statement = _PREPARED[engine.dialect.name]
    now = now or utcnow()
    values = {"task": task, "payload": payload, "available_at": now + REPUBLISH_AFTER}
    job_id = raw_transaction(
        engine,
        lambda cursor: statement.first(cursor, {**values, "created_at": now}),
        autocommit=engine.dialect.name == "postgresql",
    )
    publish_soon(job_id, task)
    return job_id


# -- publish: put messages on the broker ---------------------------------------------------


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
    """Run a task in this process (`JOBS_RUN_INLINE`: tests and tools without a worker)."""
    celery = current_app.extensions["celery"]
    celery.loader.import_default_modules()
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


# -- claim and run: the worker's side -------------------------------------------------------

_CLAIM = (
    update(_JOBS)
    .where(
        _JOBS.c.id.in_(bindparam("ids", expanding=True)),
        _JOBS.c.task == bindparam("job_task"),
        _JOBS.c.status == JobStatus.PENDING,
    )
    .values(
        status=JobStatus.RUNNING,
        attempts=_JOBS.c.attempts + 1,
        dispatched_at=bindparam("now", type_=_JOBS.c.dispatched_at.type),
    )
    .returning(_JOBS.c.id, _JOBS.c.payload)
)
_FINISH = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=bindparam("status"),
        finished_at=bindparam("now", type_=_JOBS.c.finished_at.type),
        last_error=bindparam("error"),
    )
)
_FINISH_FORGETTING = _FINISH.values(payload={})


def claim(conn: Connection, task: str, job_ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """Take the pending jobs `job_ids` of `task` in `conn`'s transaction: (id, payload) of each.

    A job is ours only if it was pending; one that another worker took, or that ran already,
    is left out. Claiming and finishing in one transaction (as signups do) makes a job run once.
    """
    rows = conn.execute(_CLAIM, {"ids": job_ids, "job_task": task, "now": utcnow()})
    return sorted((row.id, row.payload) for row in rows)


def finish(
    conn: Connection,
    job_ids: list[int],
    status: JobStatus = JobStatus.DONE,
    error: str = "",
    *,
    forget_payload: bool = False,
) -> None:
    """Record how the claimed jobs `job_ids` ended; `forget_payload` drops the copy they carried."""
    if not job_ids:
        return
    statement = _FINISH_FORGETTING if forget_payload else _FINISH
    conn.execute(
        statement, {"ids": job_ids, "status": status, "now": utcnow(), "error": error[:1000]}
    )


Work = Callable[[dict[str, Any]], None]


def run_jobs(
    task: str, job_ids: int | list[int], work: Work, *, forget_payload: bool = False
) -> int:
    """Run each job of a task message (one id, or a list); how many ran here."""
    ids = [job_ids] if isinstance(job_ids, int) else job_ids
    return sum(run_job(task, job_id, work, forget_payload=forget_payload) for job_id in ids)


def run_job(task: str, job_id: int, work: Work, *, forget_payload: bool = False) -> bool:
    """Claim job `job_id` and run `work(payload)`; record the outcome. True if it ran.

    With `forget_payload` a job that is done keeps no copy of what it carried (an address).

    Each step (the claim, the work, the bookkeeping) runs once more on a fresh connection if
    the database dropped its connection (`service.database`); a job whose work lost its
    connection again goes back to pending, claimable at once. A temporary mail error retries
    the job later with back-off; any other error fails it for good and propagates.
    """

    def take() -> list[tuple[int, dict[str, Any]]]:
        with db.engine.begin() as conn:
            return claim(conn, task, [job_id])

    claimed = once_more_if_dropped(take)
    if not claimed:
        return False
    [(_, payload)] = claimed
    try:
        once_more_if_dropped(lambda: work(payload))
    except TransientMailError as exc:
        db.session.rollback()
        once_more_if_dropped(lambda error=exc: _defer(job_id, error))
        return True
    except Exception as exc:
        db.session.rollback()
        if is_dropped(exc):
            log.warning("job %s lost its database connection; it is pending again", job_id)
            once_more_if_dropped(lambda error=exc: _release(job_id, error))
            return False
        once_more_if_dropped(lambda error=exc: _end(job_id, JobStatus.FAILED, repr(error)))
        raise
    once_more_if_dropped(lambda: _end(job_id, JobStatus.DONE, "", forget_payload))
    return True


def _end(job_id: int, status: JobStatus, error: str, forget_payload: bool = False) -> None:
    with db.engine.begin() as conn:
        finish(conn, [job_id], status, error, forget_payload=forget_payload)


def _defer(job_id: int, error: BaseException) -> None:
    """A temporary failure: pending again after a back-off, or failed after `MAX_ATTEMPTS`."""
    with db.engine.begin() as conn:
        attempts = conn.scalar(select(_JOBS.c.attempts).where(_JOBS.c.id == job_id)) or 0
        if attempts >= MAX_ATTEMPTS:
            finish(conn, [job_id], JobStatus.FAILED, str(error))
            return
        delay = min(3600, 30 * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        conn.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id)
            .values(
                status=JobStatus.PENDING,
                available_at=utcnow() + timedelta(seconds=delay),
                last_error=str(error)[:1000],
            )
        )


def forget_signups(task: str, email_key: str) -> None:
    """Delete the jobs of `task` whose payload names `email_key`, in the session's transaction.

    For erasure: a signup that failed (or is still waiting) keeps the address in its payload.
    """
    db.session.execute(
        _JOBS.delete().where(
            _JOBS.c.task == task, _JOBS.c.payload["email_key"].as_string() == email_key
        )
    )


def _release(job_id: int, error: BaseException) -> None:
    """Put a running job back to pending, due now (its worker could not finish it)."""
    with db.engine.begin() as conn:
        conn.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.RUNNING)
            .values(status=JobStatus.PENDING, available_at=utcnow(), last_error=str(error)[:1000])
        )

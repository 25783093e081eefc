"""The outbox's store: a job is a row written in the transaction of the change that asks for it.

A service calls `enqueue` inside its session's transaction (or `enqueue_on` inside
`transaction()` for Core work) and commits; the job is handed to the courier after the commit
(a session `after_commit` hook), never before, so a task never looks for a row that is not
there, and a rolled-back change leaves no job behind. `enqueue_now` is the signup's one
INSERT in a transaction of its own. `forget` deletes waiting jobs that name someone erased.

A job keeps the request id bound when it was enqueued (`service.logs`) in its payload under
`REQUEST_ID_KEY`; the runner binds it again while the job runs, so the jobs a job causes
carry it on, and every log line of the chain names the request that started it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, event, insert, literal
from sqlalchemy.orm import Session

from service import logs
from service.extensions import db
from service.models import JobStatus, OutboxJob, utcnow
from service.outbox.courier import REPUBLISH_AFTER, publish_soon
from service.prepared import Prepared, raw_transaction

_JOBS = OutboxJob.__table__
_QUEUED = "outbox.queued"  # session.info / connection.info: (task, id) to publish on commit
_ADDED = "outbox.added"  # session.info: jobs added, not flushed yet
REQUEST_ID_KEY = "_request_id"  # in a job's payload: the request that caused it


def traced(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with the request id bound now, if any (the runner takes it out again)."""
    request_id = logs.request_id.get()
    return {**payload, REQUEST_ID_KEY: request_id} if request_id else payload


def _new_row(task: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "task": task,
        "payload": traced(payload),
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
    values = {"task": task, "payload": traced(payload), "available_at": now + REPUBLISH_AFTER}
    job_id = raw_transaction(
        engine,
        lambda cursor: statement.first(cursor, {**values, "created_at": now}),
        autocommit=engine.dialect.name == "postgresql",
    )
    publish_soon(job_id, task)
    return job_id


def forget(task: str, field: str, value: Any) -> None:
    """Delete the jobs of `task` whose payload's `field` is `value`, in the session's transaction.

    For erasure: a job still waiting (or one that failed) keeps what its payload names.
    """
    column = _JOBS.c.payload[field]
    matches = (
        column.as_string() == value if isinstance(value, str) else column.as_integer() == value
    )
    db.session.execute(_JOBS.delete().where(_JOBS.c.task == task, matches))


def forget_signups(task: str, email_key: str) -> None:
    """`forget(task, "email_key", email_key)`: the name erasure used before (kept for callers)."""
    forget(task, "email_key", email_key)

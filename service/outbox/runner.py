"""The outbox's runner: a worker claims a job, runs it once, and records how it ended.

A task claims each row before doing the work (`claim`), so a job published twice runs once.
The work signals "not now" by raising `RetryLater` (mail's temporary errors are one): the job
is pending again after a back-off with jitter, or after the delay the work asked for. Any
other error fails the job for good (a person looks at `last_error`) and propagates.

While a job runs, the request id it was enqueued under is bound (`service.logs`): its lines,
and the jobs it enqueues, carry it. Each job that ran says so in one line (task, job, outcome).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from service import logs, metrics
from service.database import is_dropped, once_more_if_dropped
from service.extensions import db
from service.models import JobStatus, OutboxJob, utcnow
from service.outbox.retry import RetryLater
from service.outbox.store import REQUEST_ID_KEY

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # for a job that lets the runner choose its back-off
_JOBS = OutboxJob.__table__

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
    connection again goes back to pending, claimable at once. A `RetryLater` retries the job
    later with back-off; any other error fails it for good and propagates.
    """

    def take() -> list[tuple[int, dict[str, Any]]]:
        with db.engine.begin() as conn:
            return claim(conn, task, [job_id])

    claimed = once_more_if_dropped(take)
    if not claimed:
        return False
    [(_, payload)] = claimed
    with logs.bound(request=payload.pop(REQUEST_ID_KEY, None)):
        return _run(task, job_id, payload, work, forget_payload)


def _run(task: str, job_id: int, payload: dict[str, Any], work: Work, forget_payload: bool) -> bool:
    """Run a claimed job's work and record how it ended (see `run_job`)."""
    started = time.monotonic()
    extra = {"task": task, "job_id": job_id}
    try:
        once_more_if_dropped(lambda: work(payload))
    except RetryLater as exc:
        db.session.rollback()
        once_more_if_dropped(lambda error=exc: _defer(job_id, error))
        metrics.job_ended(task, "retried")
        log.info("%s job %s: not now (%s)", task, job_id, exc, extra=extra)
        return True
    except Exception as exc:
        db.session.rollback()
        if is_dropped(exc):
            log.warning("job %s lost its database connection; it is pending again", job_id)
            once_more_if_dropped(lambda error=exc: _release(job_id, error))
            metrics.job_ended(task, "released")
            return False
        once_more_if_dropped(lambda error=exc: _end(job_id, JobStatus.FAILED, repr(error)))
        metrics.job_ended(task, "failed")
        log.warning("%s job %s failed: %r", task, job_id, exc, extra=extra)
        raise
    once_more_if_dropped(lambda: _end(job_id, JobStatus.DONE, "", forget_payload))
    metrics.job_ended(task, "done")
    elapsed = round((time.monotonic() - started) * 1000, 1)
    log.info("%s job %s done in %s ms", task, job_id, elapsed, extra=extra)
    return True


def _end(job_id: int, status: JobStatus, error: str, forget_payload: bool = False) -> None:
    with db.engine.begin() as conn:
        finish(conn, [job_id], status, error, forget_payload=forget_payload)


def _defer(job_id: int, error: RetryLater) -> None:
    """Not now: pending again after the delay the work asked for, or after the runner's own
    back-off (doubling from 30 s, with jitter), which gives up after `MAX_ATTEMPTS`."""
    with db.engine.begin() as conn:
        attempts = conn.scalar(select(_JOBS.c.attempts).where(_JOBS.c.id == job_id)) or 0
        if error.after is None and attempts >= MAX_ATTEMPTS:
            finish(conn, [job_id], JobStatus.FAILED, str(error))
            return
        if error.after is not None:
            delay = max(0.0, error.after)
        else:
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


def _release(job_id: int, error: BaseException) -> None:
    """Put a running job back to pending, due now (its worker could not finish it)."""
    with db.engine.begin() as conn:
        conn.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.status == JobStatus.RUNNING)
            .values(status=JobStatus.PENDING, available_at=utcnow(), last_error=str(error)[:1000])
        )

"""The outbox: a job is published after its transaction commits, a few per message, once.

The publishing tests' broker is a private redis-server with no worker attached, so the
published messages stay in the queue to be read back; the claim, run and sweep tests are on
the unit tier (`unit_app`: jobs run in this process, no server).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from service import outbox
from service.extensions import db
from service.mail.errors import TransientMailError
from service.models import JobStatus, Newsletter, OutboxJob, Subscriber, Subscription, utcnow
from tests.conftest import RedisServer, stack_env

TASK = "mail.send_confirmation"


@pytest.fixture
def private_broker_app(sqlite_app_with) -> Iterator[Flask]:
    """An app whose broker is a redis-server of its own (no other test's messages in it)."""
    broker = RedisServer().start()
    try:
        app = sqlite_app_with(CELERY_BROKER_URL=f"{broker.url}/0")
        with app.app_context():
            yield app
    finally:
        broker.stop()


def _queued_ids(app: Flask) -> list[list[int]]:
    """The job ids of each message waiting in the default Celery queue, oldest first."""
    broker = redis.Redis.from_url(app.config["CELERY_BROKER_URL"])
    messages = [json.loads(item) for item in reversed(broker.lrange("celery", 0, -1))]
    assert all(m["headers"]["task"] == TASK for m in messages)
    return [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]


def _new_jobs(count: int) -> list[int]:
    made = [outbox.enqueue(TASK, {"subscriber_id": 0}) for _ in range(count)]
    db.session.commit()
    assert outbox.wait_for_publish(10)
    return [job.id for job in made]


def test_a_job_is_published_after_its_transaction_commits_never_before(private_broker_app):
    job = outbox.enqueue(TASK, {"subscriber_id": 0})
    db.session.flush()
    assert outbox.wait_for_publish(10) and _queued_ids(private_broker_app) == []
    db.session.commit()
    assert outbox.wait_for_publish(10)
    assert _queued_ids(private_broker_app) == [[job.id]]


def test_a_rolled_back_job_is_never_published(private_broker_app):
    outbox.enqueue(TASK, {"subscriber_id": 0})
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # a later commit of the same session publishes nothing either
    assert outbox.wait_for_publish(10) and _queued_ids(private_broker_app) == []


def test_core_transactions_publish_after_their_commit(private_broker_app):
    with outbox.transaction() as conn:
        job_id = outbox.enqueue_on(conn, TASK, {"subscriber_id": 0}, utcnow())
        assert outbox.wait_for_publish(10) and _queued_ids(private_broker_app) == []
    assert outbox.wait_for_publish(10)
    assert _queued_ids(private_broker_app) == [[job_id]]
    with pytest.raises(RuntimeError), outbox.transaction() as conn:
        outbox.enqueue_on(conn, TASK, {"subscriber_id": 0}, utcnow())
        raise RuntimeError("the work failed")
    assert outbox.wait_for_publish(10) and _queued_ids(private_broker_app) == [[job_id]]


def test_jobs_committed_together_go_in_messages_of_a_bounded_size(private_broker_app):
    ids = _new_jobs(outbox.JOBS_PER_MESSAGE * 2 + 7)
    messages = _queued_ids(private_broker_app)
    assert [len(m) for m in messages] == [outbox.JOBS_PER_MESSAGE, outbox.JOBS_PER_MESSAGE, 7]
    assert [i for m in messages for i in m] == ids


def test_publish_soon_publishes_every_job_once(private_broker_app):
    ids = _new_jobs(40)
    for job_id in ids:
        outbox.publish_soon(job_id, TASK)
    assert outbox.wait_for_publish(10)
    messages = _queued_ids(private_broker_app)
    assert sorted(i for m in messages for i in m) == sorted(ids + ids)  # commit, then by hand
    assert 2 <= len(messages) <= 2 * len(ids)


def test_a_process_that_exits_hands_its_queued_jobs_over_first(private_broker_app, tmp_path):
    """The courier's linger must not lose a job when the process ends right after a signup."""
    env = stack_env(
        private_broker_app.config["SQLALCHEMY_DATABASE_URI"],
        private_broker_app.config["CELERY_BROKER_URL"],
        private_broker_app.config["REDIS_URL"],
        "memory://",
        tmp_path,
    )
    script = (
        "from service import create_app, outbox\n"
        "from service.extensions import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        f"    first = outbox.enqueue({TASK!r}, {{'subscriber_id': 0}})\n"
        "    db.session.commit()\n"
        "    outbox.wait_for_publish(10)  # a process that has published before\n"
        f"    last = outbox.enqueue({TASK!r}, {{'subscriber_id': 0}})\n"
        "    db.session.commit()  # and exits at once, within the courier's linger\n"
        "    print(first.id, last.id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, last = map(int, done.stdout.split()[-2:])
    assert _queued_ids(private_broker_app) == [[first], [last]]


# -- claim and run, and the sweep: on the unit tier (jobs run in this process) --------------


def _pending_job(task: str = TASK, payload: dict | None = None, **fields) -> int:
    """A committed pending job that nothing has published (written as a stranded row)."""
    job = OutboxJob(task=task, payload=payload or {"subscriber_id": 0}, **fields)
    db.session.add(job)
    db.session.commit()
    return job.id


def _row(job_id: int) -> OutboxJob:
    db.session.expire_all()
    return db.session.get(OutboxJob, job_id)


def test_run_job_claims_a_job_once_and_passes_its_payload(unit_app):
    job_id = _pending_job(payload={"subscriber_id": 7})
    seen = []
    assert outbox.run_job(TASK, job_id, seen.append)
    assert not outbox.run_job(TASK, job_id, seen.append)  # the same message again
    assert not outbox.run_job("another.task", _pending_job(), seen.append)  # not its task
    assert seen == [{"subscriber_id": 7}]
    job = _row(job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, "")
    assert job.finished_at is not None
    assert outbox.run_jobs(TASK, [job_id, job_id], seen.append) == 0


def test_a_temporary_mail_error_defers_the_job_with_back_off(unit_app):
    job_id = _pending_job()

    def refused(payload):
        raise TransientMailError(421, "try again later")

    before = utcnow()
    assert outbox.run_job(TASK, job_id, refused)
    job = _row(job_id)
    assert (job.status, job.last_error) == (JobStatus.PENDING, "421 try again later")
    first_wait = (job.available_at - before).total_seconds()
    assert 30 * 0.8 - 1 <= first_wait <= 30 * 1.2 + 1
    assert outbox.run_job(TASK, job_id, refused)  # due or not, a message claims it again
    second_wait = (_row(job_id).available_at - before).total_seconds()
    assert 60 * 0.8 - 1 <= second_wait <= 60 * 1.2 + 1  # doubled


def test_a_job_that_keeps_failing_temporarily_fails_after_max_attempts(unit_app):
    job_id = _pending_job(attempts=outbox.MAX_ATTEMPTS - 1)

    def refused(payload):
        raise TransientMailError(421, "busy")

    assert outbox.run_job(TASK, job_id, refused)
    job = _row(job_id)
    assert (job.status, job.attempts, job.last_error) == (
        JobStatus.FAILED,
        outbox.MAX_ATTEMPTS,
        "421 busy",
    )


def test_any_other_error_fails_the_job_and_propagates(unit_app):
    job_id = _pending_job()

    def broken(payload):
        db.session.add(OutboxJob(task="half.done", payload={}))
        db.session.flush()
        raise KeyError("subscriber_id")

    with pytest.raises(KeyError):
        outbox.run_job(TASK, job_id, broken)
    job = _row(job_id)
    assert (job.status, job.last_error) == (JobStatus.FAILED, "KeyError('subscriber_id')")
    assert db.session.scalars(select(OutboxJob.task)).all() == [TASK]  # its work rolled back


def test_the_sweep_publishes_due_and_abandoned_jobs_and_leaves_the_rest(unit_app, sent_mail):
    now = utcnow()
    db.session.add(Newsletter(slug="daily", name="Daily"))
    reader = Subscriber(
        email="olena@gmail.com", email_ascii="olena@gmail.com", email_key="olena@gmail.com"
    )
    reader.subscriptions = [Subscription(newsletter=db.session.scalars(select(Newsletter)).one())]
    db.session.add(reader)
    db.session.commit()
    payload = {"subscriber_id": reader.id}
    due = _pending_job(TASK, payload, available_at=now - timedelta(seconds=1))
    not_yet = _pending_job(TASK, payload, available_at=now + timedelta(minutes=1))
    abandoned = _pending_job(
        TASK, payload, status=JobStatus.RUNNING, dispatched_at=now - outbox.REPUBLISH_AFTER * 2
    )
    running = _pending_job(TASK, payload, status=JobStatus.RUNNING, dispatched_at=now)
    assert outbox.sweep() == 2
    statuses = [_row(i).status for i in (due, not_yet, abandoned, running)]
    assert statuses == [JobStatus.DONE, JobStatus.PENDING, JobStatus.DONE, JobStatus.RUNNING]
    assert [m.recipients for m in sent_mail] == [("olena@gmail.com",)] * 2  # run inline
    assert outbox.sweep() == 0


def test_retry_later_is_the_signal_and_may_name_its_own_delay(unit_app):
    """Any work retries through the runner by raising `RetryLater`; a delay it names wins over
    the runner's back-off, and the runner's attempt limit is then the work's own business."""
    job_id = _pending_job(attempts=outbox.MAX_ATTEMPTS + 3)

    def not_now(payload):
        raise outbox.RetryLater("endpoint asked us to wait", after=600)

    before = utcnow()
    assert outbox.run_job(TASK, job_id, not_now)
    job = _row(job_id)
    assert (job.status, job.last_error) == (JobStatus.PENDING, "endpoint asked us to wait")
    assert 599 <= (job.available_at - before).total_seconds() <= 601
    assert issubclass(TransientMailError, outbox.RetryLater)


def test_forget_deletes_only_the_waiting_jobs_that_name_the_value(unit_app):
    keep = _pending_job(TASK, {"subscriber_id": 8, "email_key": "b@example.org"})
    gone = _pending_job(TASK, {"subscriber_id": 7, "email_key": "a@example.org"})
    other_task = _pending_job("another.task", {"subscriber_id": 7})
    outbox.forget(TASK, "subscriber_id", 7)
    db.session.commit()
    assert _row(gone) is None and _row(keep) is not None and _row(other_task) is not None
    outbox.forget(TASK, "email_key", "b@example.org")
    db.session.commit()
    assert _row(keep) is None

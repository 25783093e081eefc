"""A signup in two steps: the request stores one outbox job, a worker applies it exactly once.

Plain apps without a worker, on SQLite and PostgreSQL: the test applies the jobs itself with
the function the Celery task runs (`apply_signups`); the stack tests cover the real worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import event, func, select

from service import outbox
from service.extensions import db
from service.models import (
    ConsentRecord,
    JobStatus,
    Newsletter,
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    utcnow,
)
from service.signup.apply import apply_signups
from service.task_names import TaskName
from tests.conftest import unique_email

SIGNUP_TABLES = (Subscriber, Subscription, SubscriptionEvent, ConsentRecord)


@pytest.fixture(params=["sqlite", "postgresql"])
def plain(request):
    """A plain app (no worker) on each backend, with the `daily` newsletter."""
    app = request.getfixturevalue(
        f"{'postgres' if request.param == 'postgresql' else 'sqlite'}_app"
    )
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    return app


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _jobs(task: str) -> list[OutboxJob]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(OutboxJob).where(OutboxJob.task == task).order_by(OutboxJob.id))
    )


def _sign_up(app, email: str, **fields) -> str:
    """Sign `email` up; the request's id (its jobs carry it)."""
    body = {"email": email, "newsletters": "daily", "name": "Olena", **fields}
    response = app.test_client().post(
        "/api/v1/subscriptions", json=body, headers={"User-Agent": "Firefox"}
    )
    assert response.status_code == 202, response.data
    return response.headers["X-Request-ID"]


def test_the_request_stores_one_job_and_nothing_else(plain):
    email = unique_email()
    _sign_up(plain, email, source_url="https://news.example.org/a")
    assert [_count(model) for model in SIGNUP_TABLES] == [0, 0, 0, 0]
    [job] = _jobs(TaskName.APPLY_SIGNUPS)
    assert job.status == JobStatus.PENDING
    assert job.available_at - job.created_at == timedelta(minutes=5)  # the relay's fallback
    signup = job.payload
    assert (signup["email"], signup["name"], signup["newsletters"]) == (email, "Olena", "daily")
    assert (signup["ip"], signup["user_agent"]) == ("127.0.0.1", "Firefox")
    assert signup["source_url"] == "https://news.example.org/a"


def test_a_job_is_applied_once_and_keeps_no_copy_of_the_signup(plain):
    email = unique_email()
    request_id = _sign_up(plain, email)
    [job] = _jobs(TaskName.APPLY_SIGNUPS)
    assert apply_signups([job.id]) == 1
    assert apply_signups([job.id]) == 0  # published twice: the second claim finds nothing
    assert [_count(model) for model in SIGNUP_TABLES] == [1, 1, 1, 1]
    [job] = _jobs(TaskName.APPLY_SIGNUPS)
    assert (job.status, job.attempts, job.payload) == (JobStatus.DONE, 1, {})
    reader = db.session.scalar(select(Subscriber))
    assert (reader.email, reader.name) == (email, "Olena")
    [confirmation] = _jobs(TaskName.SEND_CONFIRMATION)
    # It carries the signup's request id on (logs), as the worker running it will.
    assert confirmation.payload == {"subscriber_id": reader.id, outbox.REQUEST_ID_KEY: request_id}


def test_the_consent_record_keeps_the_time_of_the_request(plain):
    _sign_up(plain, unique_email())
    [job] = _jobs(TaskName.APPLY_SIGNUPS)
    asked_at = job.created_at
    with time_machine.travel(utcnow() + timedelta(hours=2)):  # the workers were behind
        assert apply_signups([job.id]) == 1
    consent = db.session.scalar(select(ConsentRecord))
    reader = db.session.scalar(select(Subscriber))
    assert consent.created_at == reader.created_at == asked_at


def test_a_signup_that_cannot_be_applied_fails_alone(plain):
    good, bad = unique_email(), unique_email()
    _sign_up(plain, bad)
    _sign_up(plain, good)
    first, second = _jobs(TaskName.APPLY_SIGNUPS)
    first.payload = {**first.payload, "newsletter_ids": [999_999]}  # deleted in between
    db.session.commit()
    assert apply_signups([first.id, second.id]) == 1
    first, second = _jobs(TaskName.APPLY_SIGNUPS)
    assert first.status == JobStatus.FAILED and "IntegrityError" in first.last_error
    assert first.payload["email"] == bad  # kept, to look at and publish again
    assert (second.status, second.payload) == (JobStatus.DONE, {})
    assert list(db.session.scalars(select(Subscriber.email))) == [good]


def test_a_batch_without_failures_takes_no_savepoints(plain):
    savepoints: list[str] = []
    listener = lambda conn, name: savepoints.append(name)  # noqa: E731
    event.listen(db.engine, "savepoint", listener)
    try:
        for _ in range(3):
            _sign_up(plain, unique_email())
        assert apply_signups([job.id for job in _jobs(TaskName.APPLY_SIGNUPS)]) == 3
        assert savepoints == []
        _sign_up(plain, unique_email())
        _sign_up(plain, unique_email())
        first, second = _jobs(TaskName.APPLY_SIGNUPS)[-2:]
        first.payload = {**first.payload, "newsletter_ids": [999_999]}
        db.session.commit()
        assert apply_signups([first.id, second.id]) == 1
        assert len(savepoints) == 2  # applied again, each signup in its own savepoint
    finally:
        event.remove(db.engine, "savepoint", listener)
    assert _count(Subscriber) == 4


def test_a_second_signup_of_the_address_in_one_batch_adds_no_second_reader(plain):
    email = unique_email()
    _sign_up(plain, email)
    _sign_up(plain, email.upper())
    ids = [job.id for job in _jobs(TaskName.APPLY_SIGNUPS)]
    assert apply_signups(ids) == 2
    assert _count(Subscriber) == 1 and _count(ConsentRecord) == 2
    assert len(_jobs(TaskName.SEND_CONFIRMATION)) == 1  # at most one confirmation per address

"""The database server drops connections (a restart, an idle timeout): no unit of work is lost.

Real PostgreSQL: the tests kill the app's server-side sessions with pg_terminate_backend on
their own scratch database, as a restart would, while the connections sit in the pool and
while a request or a job holds one. Every request and job must then be retried once on a
fresh connection, or fail cleanly with its outbox row claimable at once.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from service import database, outbox
from service.access.keys import create_api_key
from service.extensions import db
from service.lists import newsletter_index
from service.models import JobStatus, Newsletter, OutboxJob, Subscriber, utcnow
from service.signup.confirm import send_confirmation_email
from service.task_names import TaskName
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    apply_signups_here,
    plain_app,
    scratch_postgres,
    stored,
    unique_email,
)


@pytest.fixture
def pg_app(postgres_app):
    """The app and its database's name, with the newsletter readers sign up for."""
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    return postgres_app, postgres_app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]


def _kill_sessions(database_name: str) -> int:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database_name,),
        ).fetchone()[0]


def _sign_up(client) -> str:
    email = unique_email()
    response = client.post("/api/v1/subscriptions", json={"email": email, "newsletters": "daily"})
    assert response.status_code == 202, response.data
    return email


def test_a_signup_on_a_connection_the_server_dropped_is_retried(pg_app):
    app, name = pg_app
    client = app.test_client()
    assert stored(_sign_up(client))
    db.session.remove()
    assert _kill_sessions(name) >= 1  # every pooled connection of the app is now dead
    assert stored(_sign_up(client))


def test_an_idle_pooled_connection_is_checked_and_replaced(pg_app, monkeypatch):
    app, name = pg_app
    client = app.test_client()
    assert stored(_sign_up(client))
    db.session.remove()
    assert _kill_sessions(name) >= 1
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every pooled connection is "idle"
    assert db.session.scalar(db.select(db.func.count()).select_from(Newsletter)) == 1


def _newsletters(client, key: str):
    return client.get("/api/v1/newsletters", headers={"Authorization": f"Bearer {key}"})


def test_an_admin_request_after_every_connection_was_dropped_answers(pg_app):
    app, name = pg_app
    client = app.test_client()
    key = create_api_key(f"ops-{uuid.uuid4().hex[:8]}")
    assert _newsletters(client, key).status_code == 200
    db.session.remove()
    assert _kill_sessions(name) >= 1
    response = _newsletters(client, key)
    assert response.status_code == 200, response.data
    assert [n["slug"] for n in response.json["newsletters"]] == ["daily"]


def test_an_admin_request_whose_connection_drops_mid_request_is_retried(pg_app):
    app, name = pg_app
    client = app.test_client()
    key = create_api_key(f"ops-{uuid.uuid4().hex[:8]}")
    # The request shares this context's session: it finds a transaction open on a connection
    # that the server then drops, as if the database restarted half-way through the request.
    db.session.execute(select(1))
    assert _kill_sessions(name) >= 1
    response = _newsletters(client, key)
    assert response.status_code == 200, response.data


def test_a_signup_that_must_read_the_newsletters_after_a_drop_is_stored(pg_app):
    app, name = pg_app
    client = app.test_client()
    assert stored(_sign_up(client))
    db.session.remove()
    newsletter_index.forget()  # the signup must read the newsletters on a dropped connection
    assert _kill_sessions(name) >= 1
    assert stored(_sign_up(client))


def _pending_reader(client) -> int:
    """A reader with a pending subscription, and no job left over from their signup."""
    email = _sign_up(client)
    assert stored(email)
    db.session.execute(db.delete(OutboxJob))
    db.session.commit()
    return db.session.scalar(select(Subscriber.id).where(Subscriber.email_key == email))


def _confirmation_job(subscriber_id: int) -> int:
    job = outbox.enqueue(TaskName.SEND_CONFIRMATION, {"subscriber_id": subscriber_id})
    db.session.commit()
    return job.id


def test_a_job_whose_connection_drops_mid_work_is_retried_on_a_fresh_one(pg_app):
    app, name = pg_app
    subscriber_id = _pending_reader(app.test_client())
    job_id = _confirmation_job(subscriber_id)
    drops = []

    def work(payload):
        db.session.get(Subscriber, payload["subscriber_id"])  # the job holds a connection
        if not drops:
            drops.append(_kill_sessions(name))
        send_confirmation_email(payload["subscriber_id"])

    assert outbox.run_job(TaskName.SEND_CONFIRMATION, job_id, work) is True
    assert drops and drops[0] >= 1
    db.session.expire_all()
    job = db.session.get(OutboxJob, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 1), job.last_error


def test_a_job_that_keeps_losing_its_connection_is_claimable_at_once(pg_app):
    _app, name = pg_app
    job_id = _confirmation_job(0)

    def work(payload):
        db.session.execute(select(1))
        _kill_sessions(name)
        db.session.execute(select(1))

    assert (
        outbox.run_job(TaskName.SEND_CONFIRMATION, job_id, work) is False
    )  # it did not run to the end
    db.session.expire_all()
    job = db.session.get(OutboxJob, job_id)
    assert job.status == JobStatus.PENDING, (job.status, job.last_error)
    assert job.available_at <= utcnow() + timedelta(seconds=1)  # no five-minute wait
    assert "terminating connection" in job.last_error
    with db.engine.begin() as conn:  # the next worker can take it now
        assert outbox.claim(conn, TaskName.SEND_CONFIRMATION, [job_id])


def test_a_batch_of_signups_whose_connection_drops_is_applied_once(pg_app):
    app, name = pg_app
    client = app.test_client()
    emails = [_sign_up(client) for _ in range(3)]
    db.session.remove()
    assert _kill_sessions(name) >= 1
    assert apply_signups_here() == 3
    assert (
        db.session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.email_key.in_(emails))
        )
        == 3
    )


def test_work_that_committed_before_its_connection_dropped_is_not_run_twice(pg_app):
    _app, name = pg_app
    job_id = _confirmation_job(0)
    runs = []

    def work(payload):
        runs.append(payload)
        db.session.add(Newsletter(slug="weekly", name="Weekly"))
        db.session.commit()  # done: running it again would do it twice
        db.session.execute(select(1))
        _kill_sessions(name)
        db.session.execute(select(1))

    assert outbox.run_job(TaskName.SEND_CONFIRMATION, job_id, work) is False
    assert len(runs) == 1
    db.session.expire_all()
    job = db.session.get(OutboxJob, job_id)
    assert (job.status, job.available_at <= utcnow()) == (JobStatus.PENDING, True)


def test_a_transaction_left_open_gives_its_locks_back_after_the_idle_timeout(
    tmp_path, redis_server
):
    """A process cut off between its UPDATE and its COMMIT (its host off the network) must not
    keep the row locked for everyone else: the server ends the session after
    `DATABASE_IDLE_TRANSACTION_SECONDS` of silence, and the lock is free again."""
    one_second = {"DATABASE_IDLE_TRANSACTION_SECONDS": 1}
    with scratch_postgres() as url, plain_app(url, redis_server, tmp_path, **one_second):
        db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
        db.session.commit()
        with db.engine.connect() as cut_off:
            cut_off.execute(update(Newsletter).values(name="Half-written"))  # holds the lock
            with psycopg.connect(url, autocommit=True) as other:
                other.execute("SET lock_timeout = '10s'")
                started = time.monotonic()
                other.execute("UPDATE newsletters SET name = 'Ukraine Daily, again'")
                waited = time.monotonic() - started
            assert 0.5 < waited < 5, waited  # it waited for the lock, then got it
            with pytest.raises(DBAPIError) as raised:
                cut_off.execute(select(1))
            assert "idle-in-transaction timeout" in str(raised.value)

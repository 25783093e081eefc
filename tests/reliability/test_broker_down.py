"""The broker goes down: signups still answer fast, jobs wait in the outbox, one email each."""

from __future__ import annotations

import time

from service import outbox
from service.extensions import db
from service.models import JobStatus, Newsletter, OutboxJob
from tests.conftest import (
    RedisServer,
    app_for,
    migrate,
    one_redis_env,
    start_worker,
    stop_process,
    unique_email,
)


def test_signup_survives_broker_outage_and_relay_delivers_once(tmp_path, smtp_server):
    broker = RedisServer().start()
    env = one_redis_env(broker, smtp_server.url, tmp_path)
    app = app_for(env)
    migrate(app)
    worker = None
    try:
        with app.app_context():
            db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
            db.session.commit()
            web = app.test_client()
            broker.stop()
            assert web.get("/readyz").status_code == 503

            addresses = [unique_email(), unique_email()]
            for email in addresses:
                started = time.monotonic()
                response = web.post(
                    "/api/v1/subscriptions", json={"email": email, "newsletters": "daily"}
                )
                assert response.status_code == 202
                assert time.monotonic() - started < 1.0
            assert outbox.wait_for_publish()
            waiting = db.session.execute(db.select(OutboxJob.task, OutboxJob.status)).all()
            assert waiting == [("signups.apply", JobStatus.PENDING)] * 2  # stored, not lost

            broker.start()  # same port: the broker is back
            worker = start_worker(env, tmp_path / "worker.log")
            assert outbox.sweep() == 2
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(_mail_to(smtp_server, addresses)) < 2:
                time.sleep(0.1)
            assert assert_once(smtp_server, addresses)

            assert outbox.sweep() == 0  # nothing left to publish
            time.sleep(1.0)
            assert assert_once(smtp_server, addresses)
            db.session.expire_all()
            assert set(db.session.scalars(db.select(OutboxJob.status))) == {JobStatus.DONE}
    finally:
        if worker is not None:
            stop_process(worker)
        broker.stop()


def test_a_job_handed_over_twice_runs_once(sqlite_app):
    job = outbox.enqueue("mail.send_confirmation", {"subscriber_id": 0})
    db.session.commit()
    runs = []
    assert outbox.run_job("mail.send_confirmation", job.id, runs.append) is True
    assert outbox.run_job("mail.send_confirmation", job.id, runs.append) is False
    assert len(runs) == 1
    db.session.refresh(job)
    assert job.status == JobStatus.DONE


def _mail_to(smtp_server, addresses):
    return [m for m in smtp_server.messages if m.recipients[0] in addresses]


def assert_once(smtp_server, addresses) -> bool:
    received = [m.recipients[0] for m in _mail_to(smtp_server, addresses)]
    assert sorted(received) == sorted(addresses), received
    return True

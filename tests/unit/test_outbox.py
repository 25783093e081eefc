"""The outbox: a job is published after its transaction commits, a few per message, once.

The app's broker here is a private redis-server with no worker attached, so the published
messages stay in the queue to be read back.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from service import outbox
from service.extensions import db
from service.models import utcnow
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

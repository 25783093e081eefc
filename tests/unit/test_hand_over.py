"""Handing outbox jobs to the broker: a few per Celery message, every job exactly once.

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

from service import jobs
from service.extensions import db
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
    made = [jobs.add_job(TASK, {"subscriber_id": 0}) for _ in range(count)]
    db.session.commit()
    return [job.id for job in made]


def test_hand_over_publishes_jobs_in_messages_of_a_bounded_size(private_broker_app):
    ids = _new_jobs(jobs.JOBS_PER_MESSAGE * 2 + 7)
    assert jobs.hand_over(ids, TASK) == len(ids)
    messages = _queued_ids(private_broker_app)
    assert [len(m) for m in messages] == [jobs.JOBS_PER_MESSAGE, jobs.JOBS_PER_MESSAGE, 7]
    assert [i for m in messages for i in m] == ids


def test_hand_over_soon_hands_every_job_over_once(private_broker_app):
    ids = _new_jobs(40)
    for job_id in ids:
        jobs.hand_over_soon(job_id, TASK)
    assert jobs.wait_for_hand_over(10)
    messages = _queued_ids(private_broker_app)
    assert sorted(i for m in messages for i in m) == ids
    assert 1 <= len(messages) <= len(ids)


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
        "from service import create_app, jobs\n"
        "from service.extensions import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        f"    first = jobs.add_job({TASK!r}, {{'subscriber_id': 0}})\n"
        f"    last = jobs.add_job({TASK!r}, {{'subscriber_id': 0}})\n"
        "    db.session.commit()\n"
        f"    jobs.hand_over([first.id], {TASK!r})  # a process that has published before\n"
        f"    jobs.hand_over_soon(last.id, {TASK!r})\n"
        "    print(first.id, last.id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, last = map(int, done.stdout.split()[-2:])
    assert _queued_ids(private_broker_app) == [[first], [last]]

"""Handing outbox jobs to the broker: a few per Celery message, every job exactly once.

The app's broker here is a real redis-server with no worker attached, so the published
messages stay in the queue to be read back.
"""

from __future__ import annotations

import base64
import json

import redis

from service import jobs
from service.extensions import db

TASK = "mail.send_confirmation"


def _queued_ids(sqlite_app) -> list[list[int]]:
    """The job ids of each message waiting in the default Celery queue (and empty it)."""
    broker = redis.Redis.from_url(sqlite_app.config["CELERY_BROKER_URL"])
    raw = broker.lrange("celery", 0, -1)
    broker.delete("celery")
    messages = [json.loads(item) for item in reversed(raw)]  # LPUSH: newest first
    assert all(m["headers"]["task"] == TASK for m in messages)
    return [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]


def _new_jobs(count: int) -> list[int]:
    made = [jobs.add_job(TASK, {"subscriber_id": 0}) for _ in range(count)]
    db.session.commit()
    return [job.id for job in made]


def test_hand_over_publishes_jobs_in_messages_of_a_bounded_size(sqlite_app):
    _queued_ids(sqlite_app)
    ids = _new_jobs(jobs.JOBS_PER_MESSAGE * 2 + 7)
    assert jobs.hand_over(ids, TASK) == len(ids)
    messages = _queued_ids(sqlite_app)
    assert [len(m) for m in messages] == [jobs.JOBS_PER_MESSAGE, jobs.JOBS_PER_MESSAGE, 7]
    assert [i for m in messages for i in m] == ids


def test_hand_over_soon_hands_every_job_over_once(sqlite_app):
    _queued_ids(sqlite_app)
    ids = _new_jobs(40)
    for job_id in ids:
        jobs.hand_over_soon(job_id, TASK)
    assert jobs.wait_for_hand_over(10)
    messages = _queued_ids(sqlite_app)
    assert sorted(i for m in messages for i in m) == ids
    assert 1 <= len(messages) <= len(ids)

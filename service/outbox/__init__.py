"""The outbox: background work is written to the database first, then published to Celery.

This package is the only writer and claimer of outbox rows, one job per module:

- `store`: `enqueue` a job in the transaction of the change that asks for it; it is handed on
  only after that transaction commits (`transaction()` and `enqueue_on` for Core work,
  `enqueue_now` for the signup's one INSERT); `forget` for erasure.
- `courier`: a background thread publishes committed jobs, a few per message; beat's `sweep`
  publishes those whose message was lost or never sent.
- `runner`: a worker claims a job, runs it once and records how it ended.
- `retry`: `RetryLater`, the signal any work raises to be tried again later.

Services never import `tasks/`: they enqueue by name (`service.task_names`), and this package
is their only bridge to Celery. Callers use the names re-exported here
(`from service import outbox; outbox.enqueue(...)`).
"""

from service.outbox.courier import (
    JOBS_PER_MESSAGE,
    LINGER_SECONDS,
    REPUBLISH_AFTER,
    publish,
    publish_soon,
    publish_task,
    sweep,
    wait_for_publish,
)
from service.outbox.retry import RetryLater
from service.outbox.runner import MAX_ATTEMPTS, claim, finish, run_job, run_jobs
from service.outbox.store import (
    REQUEST_ID_KEY,
    enqueue,
    enqueue_now,
    enqueue_on,
    forget,
    forget_signups,
    transaction,
)

__all__ = [
    "JOBS_PER_MESSAGE",
    "LINGER_SECONDS",
    "MAX_ATTEMPTS",
    "REPUBLISH_AFTER",
    "REQUEST_ID_KEY",
    "RetryLater",
    "claim",
    "enqueue",
    "enqueue_now",
    "enqueue_on",
    "finish",
    "forget",
    "forget_signups",
    "publish",
    "publish_soon",
    "publish_task",
    "run_job",
    "run_jobs",
    "sweep",
    "transaction",
    "wait_for_publish",
]

"""Metrics for Prometheus: counted where the work happens, read by `GET /metrics`.

One job per module:

- `recorded`: the counters and histograms every process adds to (signups, confirmations,
  unsubscribes, deliveries, SMTP answers, batches, outbox jobs) and the functions that count.
- `scraped`: what is read from the database when Prometheus scrapes (jobs waiting, the oldest
  waiting job and batch lease, each active send's progress, workers' and beat's heartbeats),
  each from an indexed query that reads a bounded number of rows.
- `processes`: prometheus-client's multiprocess mode: the `PROMETHEUS_MULTIPROC_DIR` files
  that gunicorn's processes and Celery's pool children write, cleaned at the stack's start,
  and a dead process's live gauges taken away.

prometheus-client chooses its multiprocess mode when it is first imported, from
`PROMETHEUS_MULTIPROC_DIR`; `.env` is read here first (as `service.config` does), so a value
set there counts too.
"""

from service.metrics import processes as _processes
from service.metrics.recorded import (
    CHANNELS,
    SIGNUP_OUTCOMES,
    batch_timer,
    confirmed,
    delivered,
    job_ended,
    signup,
    smtp_answered,
    smtp_timer,
    unsubscribed,
)

__all__ = [
    "CHANNELS",
    "SIGNUP_OUTCOMES",
    "batch_timer",
    "confirmed",
    "delivered",
    "job_ended",
    "signup",
    "smtp_answered",
    "smtp_timer",
    "unsubscribed",
]
del _processes

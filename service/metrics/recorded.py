"""The counters and histograms, and the one function each place of work calls to count.

Label values are fixed words or values read from the database (newsletter slugs, task
names), never what a request carried: a label is a time series, and nobody may make more of
them by typing. Every metric has labels, so a process that counts nothing (a CLI command)
writes no file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

SIGNUP_OUTCOMES = ("accepted", "invalid", "bot", "rate_limited")
# An unsubscribe's cause (`Subscription.move_to`) -> the channel it came through.
CHANNELS = {
    "one_click": "one_click",  # the List-Unsubscribe-Post header, the mail client's button
    "unsubscribe_page": "footer_link",  # the visible link in the email, then the page's button
    "unsubscribe_all": "footer_link",  # the same page's "from everything"
    "preferences": "preferences",
    "complaint": "complaint",  # a spam report from the provider's feedback loop
}
NO_NEWSLETTER = "none"  # a signup whose newsletters could not be resolved (none known)
DELIVERY_OUTCOMES = ("sent", "failed", "bounced", "skipped")

SIGNUPS = Counter(
    "newsletter_signups",
    "Signups answered, by outcome (accepted, invalid, bot, rate_limited) and newsletter.",
    ["outcome", "newsletter"],
)
CONFIRMATIONS = Counter(
    "newsletter_confirmations",
    "Subscriptions confirmed by the reader's click, by newsletter.",
    ["newsletter"],
)
UNSUBSCRIBES = Counter(
    "newsletter_unsubscribes",
    "Subscriptions ended by the reader, by channel and newsletter.",
    ["channel", "newsletter"],
)
DELIVERIES = Counter(
    "newsletter_deliveries",
    "Digest deliveries written to the ledger, by outcome.",
    ["outcome"],
)
SMTP_ANSWER = Histogram(
    "newsletter_smtp_answer_seconds",
    "From MAIL FROM to the relay's answer to DATA, by the answer's class (2xx, 4xx, 5xx, error).",
    ["answer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_SECONDS = Histogram(
    "newsletter_batch_duration_seconds",
    "A send batch's run, from its claim to its end, by how it ended.",
    ["ended"],
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
IN_PROGRESS = Gauge(
    "newsletter_tasks_in_progress",
    "Tasks running now, by task (a process that ended takes its share away).",
    ["task"],
    multiprocess_mode="livesum",
)
JOBS = Counter(
    "newsletter_outbox_jobs",
    "Outbox jobs run by a worker, by task and outcome (done, failed, retried, released).",
    ["task", "outcome"],
)


def signup(outcome: str, newsletters: Iterable[str] = ()) -> None:
    """Count one signup answered with `outcome`, once per newsletter (slugs read from the
    database only; none: `none`)."""
    slugs = set(newsletters) or {NO_NEWSLETTER}
    for slug in slugs:
        SIGNUPS.labels(outcome, slug).inc()


def confirmed(newsletters: Iterable[str]) -> None:
    """Count the subscriptions a confirmation click confirmed (slugs from the database)."""
    for slug in newsletters:
        CONFIRMATIONS.labels(slug).inc()


def unsubscribed(cause: str, newsletters: Iterable[str]) -> None:
    """Count the subscriptions a reader ended, by the channel their `cause` names."""
    channel = CHANNELS.get(cause, "other")
    for slug in newsletters:
        UNSUBSCRIBES.labels(channel, slug).inc()


def delivered(statuses: Mapping[str, int]) -> None:
    """Count ledger rows just committed, by status (other keys are ignored)."""
    for status, count in statuses.items():
        if count and status in DELIVERY_OUTCOMES:
            DELIVERIES.labels(status).inc(count)


def smtp_answered(seconds: float, code: int | None) -> None:
    """Observe one SMTP transaction's answer time; `code` None: no answer (connection lost)."""
    answer = f"{code // 100}xx" if code and 200 <= code < 600 else "error"
    SMTP_ANSWER.labels(answer).observe(seconds)


@contextmanager
def smtp_timer() -> Iterator[None]:
    """Time one message's SMTP transaction: 2xx if it returns, else the error's `code`
    (a mail error carries the relay's reply code; none for a lost connection)."""
    started = time.monotonic()
    try:
        yield
    except BaseException as error:
        smtp_answered(time.monotonic() - started, getattr(error, "code", None))
        raise
    smtp_answered(time.monotonic() - started, 250)


def job_ended(task: str, outcome: str, count: int = 1) -> None:
    """Count outbox jobs of `task` that ended a run with `outcome`."""
    if count:
        JOBS.labels(task, outcome).inc(count)


@contextmanager
def batch_timer(task: str) -> Iterator[dict[str, str]]:
    """Time a batch's run and count it in progress meanwhile; the caller sets `ended`."""
    ending = {"ended": "failed"}
    started = time.monotonic()
    running = IN_PROGRESS.labels(task)
    running.inc()
    try:
        yield ending
    finally:
        running.dec()
        BATCH_SECONDS.labels(ending["ended"]).observe(time.monotonic() - started)

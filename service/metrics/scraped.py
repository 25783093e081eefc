"""What a scrape reads from the database: queues, leases, active sends, heartbeats.

Each figure is one query over an index that bounds the rows it reads, never a scan of a
table that grows with the service's history:

- jobs waiting and the age of the oldest, by task: the pending rows only, through
  `ix_outbox_jobs_status_available` (done and failed rows, the table's bulk, are never
  read), at most `WAITING_CAP` of them (a larger backlog shows as the cap);
- the oldest batch lease: the first running entry of `ix_send_batches_status_lease_until`
  (a lease is renewed at each ledger write, so its age is how long its batch has been silent);
- each active send's progress: the active sends only (at most one per newsletter, the partial
  index `uq_sends_one_active_per_newsletter`), so a finished send's series stop;
- heartbeats: the table holds one row per worker and beat.

Being read at scrape time, these are right after any restart and cost nothing between
scrapes; counters kept in the processes could not see a job another process enqueued.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from service.heartbeats import TABLE as HEARTBEATS
from service.models import BatchStatus, JobStatus, Newsletter, OutboxJob, Send, SendBatch, utcnow
from service.models.send import ACTIVE_STATUSES

WAITING_CAP = 100_000
MISSED_BEATS = 3  # as /readyz: a process is alive while its heartbeat is this many periods old
_JOBS, _BATCHES = OutboxJob.__table__, SendBatch.__table__


@dataclass
class Scrape(Collector):
    """The database's figures as Prometheus gauges, read once per `collect`."""

    conn: Connection
    lease_seconds: float
    heartbeat_seconds: float

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Every gauge, from one short read each."""
        now = utcnow()
        yield from self._waiting(now)
        yield self._oldest_lease(now)
        yield from self._sends()
        yield from self._heartbeats(now)

    def _waiting(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        pending = (
            select(_JOBS.c.task, _JOBS.c.created_at)
            .where(_JOBS.c.status == JobStatus.PENDING)
            .limit(WAITING_CAP)
            .subquery()
        )
        rows = self.conn.execute(
            select(pending.c.task, func.count(), func.min(pending.c.created_at)).group_by(
                pending.c.task
            )
        )
        waiting = GaugeMetricFamily(
            "newsletter_outbox_jobs_waiting",
            f"Outbox jobs pending, by task (counted up to {WAITING_CAP} in all).",
            labels=["task"],
        )
        oldest = GaugeMetricFamily(
            "newsletter_outbox_oldest_waiting_seconds",
            "Age of the oldest pending outbox job, by task: enqueued this long ago and not done "
            "(a job retried later counts from its first enqueue).",
            labels=["task"],
        )
        for task, count, created_at in rows:
            waiting.add_metric([task], count)
            oldest.add_metric([task], _age(now, created_at))
        yield waiting
        yield oldest

    def _oldest_lease(self, now: datetime) -> GaugeMetricFamily:
        earliest = self.conn.scalar(
            select(func.min(_BATCHES.c.lease_until)).where(_BATCHES.c.status == BatchStatus.RUNNING)
        )
        age = 0.0
        if earliest is not None:  # renewed to now + SEND_LEASE_SECONDS at each ledger write
            age = max(0.0, self.lease_seconds - (earliest - now).total_seconds())
        return GaugeMetricFamily(
            "newsletter_batch_lease_oldest_seconds",
            "Seconds since the stalest running batch renewed its lease (past "
            "SEND_LEASE_SECONDS the watchdog hands it to another worker; 0: none runs).",
            value=age,
        )

    def _sends(self) -> Iterator[GaugeMetricFamily]:
        rows = self.conn.execute(
            select(Send.id, Newsletter.slug, Send.status, Send.total, Send.sent, Send.failed)
            .add_columns(Send.skipped)
            .join(Newsletter, Newsletter.id == Send.newsletter_id)
            .where(Send.status.in_([status.value for status in ACTIVE_STATUSES]))
        )
        total = GaugeMetricFamily(
            "newsletter_send_recipients",
            "Readers an active send is for, by send id, newsletter and status.",
            labels=["send_id", "newsletter", "status"],
        )
        handled = GaugeMetricFamily(
            "newsletter_send_handled",
            "Readers an active send has handled so far, by outcome (sent, failed, skipped).",
            labels=["send_id", "newsletter", "outcome"],
        )
        for send_id, slug, status, recipients, sent, failed, skipped in rows:
            total.add_metric([str(send_id), slug, status], recipients)
            for outcome, count in (("sent", sent), ("failed", failed), ("skipped", skipped)):
                handled.add_metric([str(send_id), slug, outcome], count)
        yield total
        yield handled

    def _heartbeats(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        ages = GaugeMetricFamily(
            "newsletter_heartbeat_age_seconds",
            "Seconds since each worker and beat last recorded its heartbeat.",
            labels=["kind", "name"],
        )
        alive = {"worker": 0, "beat": 0}
        rows = self.conn.execute(select(HEARTBEATS.c.kind, HEARTBEATS.c.name, HEARTBEATS.c.beat_at))
        for kind, name, beat_at in rows:
            age = _age(now, beat_at)
            ages.add_metric([kind, name], age)
            if age <= MISSED_BEATS * self.heartbeat_seconds:
                alive[kind] = alive.get(kind, 0) + 1
        up = GaugeMetricFamily(
            "newsletter_processes_alive",
            "Workers and beats whose heartbeat is fresh (at most 3 periods old), by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(alive.items()):
            up.add_metric([kind], count)
        yield ages
        yield up


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())

"""A private sending stack for fault tests: its own Redis, SMTP relay, database and workers.

Each fault test gets its own servers (so it can stop and restart them) and small settings
(batches of 20, a 3 s lease, retries 1 s apart), and judges the outcome on the SMTP
server's own count of what it accepted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import func, select, text

from service.extensions import db
from service.models import Delivery, Newsletter, Send, SendBatch
from service.sending import scheduling
from service.sending.watchdog import watchdog
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    RedisServer,
    app_for,
    migrate,
    scratch_postgres,
    stack_env,
    start_worker,
    stop_process,
)
from tests.functional.test_sending import fresh_article, reader
from tests.support.smtp_server import SMTPServer

THREADS = 4  # start_worker's --concurrency: batches in progress at once per worker
CONNECTIONS = 2  # SEND_CONNECTIONS
IN_FLIGHT = THREADS * 2 * CONNECTIONS  # per worker: messages a batch may have out unwritten
SETTINGS = {
    "SEND_BATCH_SIZE": 20,
    "SEND_LEASE_SECONDS": 3,
    "SEND_CONNECTIONS": CONNECTIONS,
    "SEND_RETRY_BASE_SECONDS": 1,
    "SEND_RETRY_MAX_SECONDS": 2,
}
FINAL = {"sent", "failed", "cancelled", "skipped"}


@dataclass
class SendStack:
    """App, env and servers of one fault test; workers are started by `worker()`."""

    app: Flask
    env: dict[str, str]
    smtp: SMTPServer
    redis: RedisServer
    tmp: Path
    workers: list = field(default_factory=list)

    def worker(self, name: str = "worker", prefix: tuple[str, ...] = (), **env: str):
        """Start one more Celery worker (extra environment in `env`, run through `prefix`)."""
        process = start_worker({**self.env, **env}, self.tmp / f"{name}.log", prefix=prefix)
        self.workers.append(process)
        return process

    def log(self, name: str = "worker") -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def readers(self, news: Newsletter, count: int) -> set[str]:
        return {reader(news).email for _ in range(count)}

    def newsletter(self, slug: str, rate: float = 100) -> Newsletter:
        news = Newsletter(slug=slug, name=slug.title(), rate_limit_per_second=rate)
        db.session.add(news)
        db.session.commit()
        fresh_article()
        return news

    def start(self, news: Newsletter) -> int:
        return scheduling.create_send(news).id

    def received(self, addresses: set[str]) -> Counter:
        return Counter(m.recipients[0] for m in self.smtp.messages if m.recipients[0] in addresses)

    def wait_received(self, addresses: set[str], count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.received(addresses).values()) < count:
            assert time.monotonic() < deadline, f"fewer than {count} messages in {timeout} s"
            time.sleep(0.02)

    def wait_final(self, send_id: int, timeout: float = 45, tick: bool = True) -> Send:
        """Wait for the send to end (calling the watchdog as beat's tick does, if `tick`)."""
        deadline = time.monotonic() + timeout
        while True:
            db.session.commit()
            send = db.session.get(Send, send_id, populate_existing=True)
            if send.status in FINAL:
                return send
            assert time.monotonic() < deadline, (
                f"send stuck in {send.status} after {timeout} s\n{self.stuck_report(send_id)}"
            )
            if tick:
                watchdog()
            time.sleep(0.3)

    def stuck_report(self, send_id: int) -> str:
        """What a stuck send is waiting for: its batches, the database sessions that are not
        idle (PostgreSQL: who holds a transaction open, who waits on a lock) and the end of
        each worker's log."""
        db.session.commit()
        lines = [
            f"batch {b.id}: {b.status}, attempts {b.attempts}, lease until {b.lease_until}"
            for b in db.session.scalars(select(SendBatch).where(SendBatch.send_id == send_id))
        ]
        if db.engine.dialect.name == "postgresql":
            sessions = db.session.execute(
                text(
                    "SELECT pid, state, wait_event_type, now() - xact_start AS open_for, "
                    "left(query, 120) AS query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state <> 'idle'"
                )
            ).all()
            lines += [f"session {row}" for row in sessions]
        db.session.commit()
        for log in sorted(self.tmp.glob("worker*.log")):
            lines += [f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-25:]]
        return "\n".join(lines)

    def ledger(self, send_id: int) -> Counter:
        db.session.commit()
        return Counter(
            db.session.scalars(select(Delivery.status).where(Delivery.send_id == send_id))
        )

    def books(self, send_id: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """The send's counters and its ledger's (sent, failed, skipped), in ONE statement.

        One statement reads one snapshot (PostgreSQL's READ COMMITTED, SQLite's WAL), so
        the two agree unless a committed state disagrees. Reading an ORM `Send` and then
        the ledger does not: a commit between them expires the object, and its next
        attribute access reads the counters again, later than the ledger.
        """

        def rows(*statuses: str):
            return (
                select(func.count())
                .where(Delivery.send_id == send_id, Delivery.status.in_(statuses))
                .scalar_subquery()
            )

        row = db.session.execute(
            select(
                Send.sent,
                Send.failed,
                Send.skipped,
                rows("sent"),
                rows("failed", "bounced"),
                rows("skipped"),
            ).where(Send.id == send_id)
        ).one()
        db.session.commit()
        return tuple(row[:3]), tuple(row[3:])

    def batch_attempts(self, send_id: int) -> int:
        db.session.commit()
        return db.session.scalar(
            select(func.sum(SendBatch.attempts)).where(SendBatch.send_id == send_id)
        )


def kill_database_sessions(database_url: str) -> int:
    """pg_terminate_backend every server session of THIS scratch database (only)."""
    name = database_url.rsplit("/", 1)[1]
    assert name.startswith("nl_test_"), name
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()[0]


@contextmanager
def send_stack(tmp_path: Path, backend: str = "sqlite", **settings: object) -> Iterator[SendStack]:
    """Servers, a migrated app with its context pushed; everything stopped by pid on exit."""
    config = {**SETTINGS, **settings}
    with ExitStack() as stack:
        redis = RedisServer().start()
        stack.callback(redis.stop)
        smtp = stack.enter_context(SMTPServer())
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'send.db'}"
        else:
            url = stack.enter_context(scratch_postgres())
        env = stack_env(url, f"{redis.url}/0", f"{redis.url}/1", smtp.url, tmp_path)
        env.update({name: str(value) for name, value in config.items()})
        app = app_for(env, **config)
        migrate(app)
        kit = SendStack(app=app, env=env, smtp=smtp, redis=redis, tmp=tmp_path)

        def stop_workers() -> None:
            for process in kit.workers:
                stop_process(process)

        stack.callback(stop_workers)
        with app.app_context():
            try:
                yield kit
            finally:
                db.session.remove()
                db.engine.dispose()

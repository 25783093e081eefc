"""A private sending stack for fault tests: its own Redis, SMTP relay, database and workers.

Each fault test gets its own servers (so it can stop and restart them) and small settings
(batches of 20, a 3 s lease, retries 1 s apart), and judges the outcome on the SMTP
server's own count of what it accepted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import func, select, text

from service.extensions import db
from service.models import (
    Delivery,
    Newsletter,
    Send,
    SendBatch,
    Subscriber,
    Subscription,
    utcnow,
)
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
    unique_email,
)
from tests.functional.test_sending import fresh_article
from tests.support.smtp_server import SMTPServer
from tests.support.tcp_gate import TCPGate

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
    gate: TCPGate | None = None  # between the workers and PostgreSQL (`send_stack(gate=True)`)
    processes: list = field(default_factory=list)  # beat

    def beat(self):
        """Start Celery beat (the sending tick every `SEND_TICK_SECONDS`), as the Procfile does."""
        schedule = self.tmp / "beat-schedule"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.worker",
            "beat",
            "-s",
            str(schedule),
        ]
        log = (self.tmp / "beat.log").open("ab")
        root = Path(__file__).resolve().parents[2]
        process = subprocess.Popen(
            command, cwd=root, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def total(self, addresses: set[str]) -> int:
        return sum(self.received(addresses).values())

    def seconds_to_next(self, addresses: set[str], cleared_at: float, timeout: float = 60) -> float:
        """Seconds from `cleared_at` (time.monotonic, the fault clearing) to the first message
        the relay receives for `addresses` after it."""
        before = self.total(addresses)
        while self.total(addresses) == before:
            assert time.monotonic() - cleared_at < timeout, f"nothing delivered in {timeout} s"
            time.sleep(0.01)
        return time.monotonic() - cleared_at

    def worker(self, name: str = "worker", prefix: tuple[str, ...] = (), **env: str):
        """Start one more Celery worker (extra environment in `env`, run through `prefix`)."""
        process = start_worker({**self.env, **env}, self.tmp / f"{name}.log", prefix=prefix)
        self.workers.append(process)
        return process

    def start_workers(self, *names: str) -> list:
        """Start several workers at once (each waited for until ready)."""
        with ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(self.worker, names))

    def log(self, name: str = "worker") -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def readers(self, news: Newsletter, count: int) -> set[str]:
        """`count` confirmed readers of `news`, added in one commit; their addresses."""
        people = []
        for _ in range(count):
            email = unique_email()
            person = Subscriber(email=email, email_ascii=email, email_key=email.lower())
            person.subscriptions = [
                Subscription(newsletter=news, status="confirmed", confirmed_at=utcnow())
            ]
            people.append(person)
        addresses = {person.email for person in people}  # read before the commit expires them
        db.session.add_all(people)
        db.session.commit()  # and no transaction left open (idle ones are ended by the server)
        return addresses

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
def send_stack(
    tmp_path: Path, backend: str = "sqlite", gate: bool = False, defaults: bool = False, **settings
) -> Iterator[SendStack]:
    """Servers, a migrated app with its context pushed; everything stopped by pid on exit.

    `gate`: the workers and beat reach PostgreSQL through a `TCPGate` (`kit.gate`) the test
    can shut, while the test itself reads it directly. `defaults`: the service's own sending
    settings (not this module's small ones), but for `settings`.
    """
    config = {**({} if defaults else SETTINGS), **settings}
    with ExitStack() as stack:
        redis = RedisServer().start()
        stack.callback(redis.stop)
        smtp = stack.enter_context(SMTPServer())
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'send.db'}"
        else:
            url = stack.enter_context(scratch_postgres())
        worker_url, tcp_gate = url, None
        if gate:
            host_port, _name = url.rsplit("@", 1)[1].split("/", 1)
            host, port = host_port.split(":")
            tcp_gate = TCPGate(host, int(port)).start()
            stack.callback(tcp_gate.stop)
            worker_url = url.replace(f"@{host_port}/", f"@127.0.0.1:{tcp_gate.port}/")
        env = stack_env(worker_url, f"{redis.url}/0", f"{redis.url}/1", smtp.url, tmp_path)
        env.update({name: str(value) for name, value in config.items()})
        app = app_for(env, SQLALCHEMY_DATABASE_URI=url, **config)
        migrate(app)
        kit = SendStack(app=app, env=env, smtp=smtp, redis=redis, tmp=tmp_path, gate=tcp_gate)

        def stop_workers() -> None:
            for process in kit.processes:
                stop_process(process)
            for process in kit.workers:
                stop_process(process)

        stack.callback(stop_workers)
        with app.app_context():
            try:
                yield kit
            finally:
                db.session.remove()
                db.engine.dispose()


# The drills in the production configuration (PostgreSQL, Redis, two workers of 4 threads,
# beat, the service's default sending settings, a newsletter limited to 100 messages/s).
# Possible duplicates: under a rate limit a batch writes its ledger before each hand-over
# and has one message out (`delivery.SLOW_IN_FLIGHT`), so a fault costs at most one per
# running batch it reaches: 4 for one worker, 8 when it reaches both (the relay cutting
# every session; the database away costs none, as batches wait with their answers).
ONE_WORKER_BOUND = THREADS
DUPLICATE_BOUND = 2 * THREADS
# Seconds from the fault clearing to the next delivery: measured 0 to 1.2 s on a loaded
# 2-core machine; 10 s leaves room for a worse one. A killed worker's batches wait for their
# lease (SEND_LEASE_SECONDS, 10 s) and the watchdog's second look (a quarter lease later):
# measured 13 to 14 s from the kill; bound 25 s.
RESUME_BOUND = 10.0
TAKEOVER_BOUND = 25.0


def judge(kit: SendStack, send: Send, addresses: set[str], fault: str, resume: float) -> int:
    """The drill's verdict: nobody missed, every reader sent twice was reported as a possible
    duplicate (reported >= actual, both within `DUPLICATE_BOUND`); prints the figures."""
    counts = kit.received(addresses)
    assert set(counts) == addresses, f"{len(addresses - set(counts))} readers missed"
    duplicates = sum(counts.values()) - len(addresses)
    db.session.commit()
    flagged = set(
        db.session.scalars(
            select(Subscriber.email)
            .join(Delivery)
            .where(Delivery.send_id == send.id, Delivery.possible_duplicate.is_(True))
        )
    )
    twice = {address for address, count in counts.items() if count > 1}
    assert send.status == "sent", send.status
    assert (send.sent, send.failed, send.total) == (len(addresses), 0, len(addresses))
    assert twice <= flagged, f"unreported duplicates: {sorted(twice - flagged)[:5]}"
    assert send.possible_duplicates == len(flagged)
    assert duplicates <= send.possible_duplicates <= DUPLICATE_BOUND
    print(
        f"\nDRILL {fault}: {duplicates} duplicates at the relay,"
        f" {send.possible_duplicates} reported possible, next delivery {resume:.1f} s"
        " after the fault cleared"
    )
    return duplicates

"""Test fixtures: real Redis, a real Celery worker, a real SMTP server, SQLite and PostgreSQL.

Every server a test starts binds 127.0.0.1 on a free port and is stopped by its pid. A part
that is missing (redis-server, PostgreSQL) makes the suite fail loudly, never skip.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from hypothesis import settings

from service import create_app, outbox
from service.access.keys import create_api_key
from service.extensions import db
from service.models import JobStatus, Newsletter, OutboxJob, Subscriber
from service.signup.apply import apply_signups
from service.task_names import TaskName
from tests.support.processes import free_port, stop_process, wait_for_port
from tests.support.smtp_server import SMTPServer

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-key-not-for-production"

# Examples are bounded per test; a wall-clock deadline per example only measures how busy the
# machine is (2 cores shared with workers, browsers and servers), so it is off for the suite.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


class RedisServer:
    """A private redis-server on a free loopback port, keeping nothing on disk."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def start_worker(
    env: dict[str, str], log_path: Path, *extra: str, prefix: tuple[str, ...] = ()
) -> subprocess.Popen:
    """Start a real Celery worker for `tasks.worker` and wait until it is ready.

    `prefix` runs it through a command (e.g. `ip netns exec NAME`, as another host).
    """
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.worker",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--loglevel",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log_path.read_text()[-3000:]}")
        if b" ready." in log_path.read_bytes():
            return process
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"worker not ready in 60s: {log_path.read_text()[-3000:]}")


def migrate(app: Flask) -> None:
    """Create or migrate the schema with Alembic, as `newsletter db upgrade` does."""
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")


@dataclass
class Stack:
    """One running system: app config, a worker process, the SMTP server, the broker."""

    backend: str
    app: Flask
    env: dict[str, str]
    smtp: SMTPServer
    worker: subprocess.Popen | None = None
    redis: RedisServer | None = None
    extra: dict = field(default_factory=dict)


def stack_env(
    database_url: str,
    broker_url: str,
    redis_url: str,
    mail_url: str,
    instance: Path,
    public_url: str = "http://127.0.0.1:5999",
) -> dict[str, str]:
    """The environment every process of a test stack runs with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MAIL_"))}
    env.update(
        APP_ENV="test",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=redis_url,
        MAIL_URL=mail_url,
        SECRET_KEY=TEST_SECRET,
        PUBLIC_URL=public_url,
        INSTANCE_PATH=str(instance),
        RATELIMIT_ENABLED="false",
        PYTHONPATH=str(ROOT),
        MAIL_FROM="newsletter@news.example.org",
        OUTBOX_SWEEP_INTERVAL="2",
        WEBHOOK_ALLOW_PRIVATE="true",  # the tests' webhook receivers listen on 127.0.0.1
    )
    return env


def one_redis_env(redis: RedisServer, mail_url: str, instance: Path) -> dict[str, str]:
    """A stack environment laid out as in production: the broker (db 0) and the rate limits
    (db 1) on one Redis; SQLite in `instance`."""
    database_url = f"sqlite:///{instance / 'service.db'}"
    return stack_env(database_url, f"{redis.url}/0", f"{redis.url}/1", mail_url, instance)


def app_for(env: dict[str, str], **overrides: object) -> Flask:
    """A Flask app configured from a stack environment (the same values the worker reads)."""
    config = {
        "ENV": "test",
        "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
        "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
        "REDIS_URL": env["REDIS_URL"],
        "MAIL_URL": env["MAIL_URL"],
        "SECRET_KEYS": [TEST_SECRET],
        "PUBLIC_URL": env["PUBLIC_URL"],
        "INSTANCE_PATH": env["INSTANCE_PATH"],
        "MAIL_FROM": env["MAIL_FROM"],
        "RATELIMIT_ENABLED": False,
        "TESTING": True,
        "WEBHOOK_ALLOW_PRIVATE": env.get("WEBHOOK_ALLOW_PRIVATE") == "true",
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for the whole session (broker and shared counters)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for this session, dropped at the end."""
    with scratch_postgres() as url:
        yield url


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it on exit."""
    name = f"nl_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is needed at {POSTGRES_ADMIN_URL} (.ci/run starts it): {exc}"
        ) from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def stack(request, tmp_path_factory, redis_server, smtp_server) -> Iterator[Stack]:
    """The whole system on one database backend: app + a running Celery worker."""
    backend = request.param
    instance = tmp_path_factory.mktemp(f"instance-{backend}")
    if backend == "sqlite":
        database_url = f"sqlite:///{instance / 'test.db'}"
        broker = f"{redis_server.url}/1"
    else:
        database_url = request.getfixturevalue("postgres_url")
        broker = f"{redis_server.url}/2"
    env = stack_env(database_url, broker, f"{redis_server.url}/0", smtp_server.url, instance)
    app = app_for(env)
    migrate(app)
    worker = start_worker(env, instance / "worker.log")
    yield Stack(
        backend=backend, app=app, env=env, smtp=smtp_server, worker=worker, redis=redis_server
    )
    stop_process(worker)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(stack: Stack) -> Iterator[Flask]:
    """The stack's app with an app context pushed."""
    with stack.app.app_context():
        yield stack.app
        db.session.remove()


@pytest.fixture
def client(app: Flask):
    """A test client of the stack's app."""
    return app.test_client()


@pytest.fixture
def smtp(stack: Stack) -> SMTPServer:
    """The stack's SMTP server, emptied for this test."""
    stack.smtp.clear()
    return stack.smtp


@pytest.fixture
def api_key(app: Flask) -> str:
    """A fresh admin API key."""
    return create_api_key(f"test-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def newsletter(app: Flask):
    """Factory: a committed newsletter with a unique slug."""

    def make(slug: str | None = None, **fields: object) -> Newsletter:
        slug = slug or f"nl-{uuid.uuid4().hex[:8]}"
        item = Newsletter(slug=slug, name=fields.pop("name", f"Newsletter {slug}"), **fields)
        db.session.add(item)
        db.session.commit()
        return item

    return make


@contextmanager
def plain_app(
    database_url: str, redis_server: RedisServer, instance: Path, **overrides: object
) -> Iterator[Flask]:
    """A migrated app on `database_url` (settings `overrides`) with no worker, its context
    pushed, disposed on exit."""
    env = stack_env(
        database_url, f"{redis_server.url}/3", f"{redis_server.url}/0", "memory://", instance
    )
    app = app_for(env, **overrides)
    migrate(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@contextmanager
def unmigrated_app(backend: str, tmp_path: Path, redis_server: RedisServer) -> Iterator[Flask]:
    """An app on an empty database of `backend`, no schema yet (for migration tests)."""
    sqlite = nullcontext(f"sqlite:///{tmp_path / 'migrations.db'}")
    with scratch_postgres() if backend == "postgresql" else sqlite as url:
        env = stack_env(
            url, f"{redis_server.url}/3", f"{redis_server.url}/0", "memory://", tmp_path
        )
        app = app_for(env)
        with app.app_context():
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path, redis_server) -> Iterator[Flask]:
    """A plain app on a fresh SQLite file, no worker: for fast tests of services and pages."""
    with plain_app(f"sqlite:///{tmp_path / 'unit.db'}", redis_server, tmp_path) as app:
        yield app


@pytest.fixture
def sqlite_app_with(sqlite_app, tmp_path, redis_server):
    """Factory: another app on `sqlite_app`'s database, with config overrides (its own context)."""

    def make(**overrides: object) -> Flask:
        env = stack_env(
            sqlite_app.config["SQLALCHEMY_DATABASE_URI"],
            f"{redis_server.url}/3",
            f"{redis_server.url}/0",
            "memory://",
            tmp_path,
        )
        return app_for(env, **overrides)

    return make


@pytest.fixture
def postgres_app(tmp_path, redis_server) -> Iterator[Flask]:
    """A plain app on a scratch PostgreSQL database, no worker, its context pushed."""
    with scratch_postgres() as url, plain_app(url, redis_server, tmp_path) as app:
        yield app


@pytest.fixture
def service_log(caplog) -> pytest.LogCaptureFixture:
    """The `service` loggers' records, each once: caplog's handler sits on the root logger,
    which they reach once the app's logging is set up (`service.logs`); before that (or if a
    test stops them propagating) the handler is put on the `service` logger itself."""
    logger = logging.getLogger("service")
    attached = not logger.propagate
    if attached:
        logger.addHandler(caplog.handler)
    yield caplog
    if attached:
        logger.removeHandler(caplog.handler)


def unique_email(domain: str = "gmail.com") -> str:
    """An address no other test uses."""
    return f"reader.{uuid.uuid4().hex[:12]}@{domain}"


def _pending_signups() -> list[int]:
    """Ids of the signup jobs not applied yet (read on a connection of its own)."""
    with db.engine.connect() as conn:
        return list(
            conn.scalars(
                db.select(OutboxJob.id).where(
                    OutboxJob.task == TaskName.APPLY_SIGNUPS, OutboxJob.status == JobStatus.PENDING
                )
            )
        )


def wait_for_signups(timeout: float = 20.0) -> None:
    """Wait until the stack's Celery worker applied every signup accepted so far."""
    assert outbox.wait_for_publish(timeout), "the courier did not hand the signups over"
    deadline = time.monotonic() + timeout
    while pending := _pending_signups():
        assert time.monotonic() < deadline, f"signup jobs {pending} not applied in {timeout} s"
        time.sleep(0.02)
    db.session.commit()  # end the test's own snapshot: what the worker wrote is visible


def apply_signups_here() -> int:
    """Apply pending signups in this process: for apps that run without a worker."""
    applied = apply_signups(_pending_signups())
    db.session.commit()
    return applied


def stored(email: str) -> bool:
    """Is there a reader `email` once the signups accepted so far are applied (no worker)?"""
    apply_signups_here()
    db.session.expire_all()
    key = email.lower()
    return db.session.query(Subscriber).filter_by(email_key=key).count() == 1

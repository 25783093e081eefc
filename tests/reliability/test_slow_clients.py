"""A few hundred slow clients do not slow other readers down, in either layout the project runs.

The web runs as the Procfile's `web` line (through the shell, as `newsletter start` and a
production supervisor run it) in the production layout (two processes, `REDIS_URL`,
PostgreSQL, rate limits on) and in the embedded one (no `REDIS_URL`, SQLite). 300 clients
trickle headers or bodies a byte a second for 12 s (tests/support/slow_clients.py) while
signups and `/healthz` are timed one after the other: none may fail or take a second, no
worker may be killed, and the server must cut each slow client off after its read deadline
(2 s here), answering a slow body with 408.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from service import create_app
from service.extensions import db
from service.models import Newsletter
from tests.conftest import ROOT, TEST_SECRET, RedisServer, migrate, scratch_postgres, unique_email
from tests.support.processes import free_port, stop_process, wait_for_http
from tests.support.slow_clients import SlowClients

ATTACKERS = 300
DEADLINE = 2.0  # WEB_HEADER_TIMEOUT and WEB_BODY_TIMEOUT in this test
CLIENT_TIMEOUT = 5.0
SIGNUP = json.dumps({"email": "", "newsletters": "daily"})


def _procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("the Procfile has no web process")


def _base_env(tmp_path: Path, port: int) -> dict[str, str]:
    prefixes = ("CELERY_", "MAIL_", "REDIS_", "RATELIMIT_", "WEB_", "SIGNUP_", "DATABASE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("APP_ENV", None)
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        INSTANCE_PATH=str(tmp_path),
        SECRET_KEY=TEST_SECRET,
        MAIL_URL=f"file://{tmp_path / 'outbox'}",
        RATELIMIT_ENABLED="true",
        # The limiter runs (against Redis in production) but lets the timed readers, who all
        # come from 127.0.0.1, through.
        SIGNUP_RATE_LIMIT_IP="100000/minute",
        WEB_HEADER_TIMEOUT=str(DEADLINE),
        WEB_BODY_TIMEOUT=str(DEADLINE),
    )
    return env


@contextmanager
def _layout(name: str, tmp_path: Path, port: int) -> Iterator[dict[str, str]]:
    """The environment of the web in layout `name`, its database migrated with one newsletter."""
    env = _base_env(tmp_path, port)
    if name == "embedded":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'embedded.db'}"
        yield _with_newsletter(env)
        return
    redis = RedisServer().start()
    try:
        with scratch_postgres() as url:
            env.update(
                APP_ENV="production",
                DATABASE_URL=url,
                CELERY_BROKER_URL=f"{redis.url}/0",
                REDIS_URL=f"{redis.url}/1",
                WEB_CONCURRENCY="2",
            )
            yield _with_newsletter(env)
    finally:
        redis.stop()


def _with_newsletter(env: dict[str, str]) -> dict[str, str]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "INSTANCE_PATH": env["INSTANCE_PATH"],
            "SECRET_KEYS": [TEST_SECRET],
        }
    )
    migrate(app)
    with app.app_context():
        db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
        db.session.commit()
        db.engine.dispose()
    return env


def _request(port: int, kind: str) -> tuple[float, str]:
    """One reader's request on a new connection: seconds taken and the status (or 'timeout')."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        if kind == "signup":
            body = SIGNUP.replace('""', json.dumps(unique_email()), 1)
            headers = {"Content-Type": "application/json"}
            connection.request("POST", "/api/v1/subscriptions", body, headers)
        else:
            connection.request("GET", f"/{kind}")
        response = connection.getresponse()
        response.read()
        status = str(response.status)
    except (TimeoutError, OSError) as error:
        status = type(error).__name__
    finally:
        connection.close()
    return time.monotonic() - started, status


def _timed(port: int, seconds: float) -> dict[str, list[tuple[float, str]]]:
    """Signups and /healthz one after the other for `seconds`."""
    samples: dict[str, list[tuple[float, str]]] = {"signup": [], "healthz": []}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for kind in samples:
            samples[kind].append(_request(port, kind))
        time.sleep(0.02)
    return samples


def _messages_on_broker(env: dict[str, str]) -> int:
    """Celery messages the web's courier put on the broker (none is consumed here)."""
    if env.get("CELERY_BROKER_URL"):
        with redis.Redis.from_url(env["CELERY_BROKER_URL"]) as client:
            return int(client.llen("celery"))
    with sqlite3.connect(Path(env["INSTANCE_PATH"]) / "broker.db") as connection:
        return connection.execute("SELECT count(*) FROM kombu_message").fetchone()[0]


def _wait_for_messages(env: dict[str, str]) -> int:
    deadline = time.monotonic() + 10
    while not (count := _messages_on_broker(env)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def p99(samples: list[tuple[float, str]]) -> float:
    """The 99th percentile of the samples' durations (nearest rank)."""
    durations = sorted(seconds for seconds, _ in samples)
    return durations[math.ceil(0.99 * len(durations)) - 1]


def _report(layout: str, when: str, samples: dict[str, list[tuple[float, str]]]) -> str:
    parts = [
        f"{kind} p99 {p99(items) * 1000:.0f} ms (n={len(items)}, "
        f"not ok: {sum(status not in {'200', '202'} for _, status in items)})"
        for kind, items in samples.items()
    ]
    return f"{layout}, {when}: " + "; ".join(parts)


@pytest.mark.parametrize(
    "layout", [pytest.param("production", marks=pytest.mark.postgres), "embedded"]
)
def test_slow_clients_do_not_slow_readers_down(layout, tmp_path):
    port = free_port()
    log_path = tmp_path / "web.log"
    with _layout(layout, tmp_path, port) as env, log_path.open("wb") as log:
        web = subprocess.Popen(
            ["sh", "-c", f"exec {_procfile_web()}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", web)
            time.sleep(2)  # every web process has booted, not only the first to answer
            _timed(port, 0.5)  # each process's first requests connect and warm up
            quiet = _timed(port, 2)
            attack = SlowClients(port, ATTACKERS, interval=1.0, duration=12).start()
            time.sleep(1.5)  # every slow client is connected
            attacked = _timed(port, 9)
            attack.join()
            assert web.poll() is None, log_path.read_text()[-3000:]
            # The outbox's courier (a thread, a greenlet under gevent) handed the jobs over.
            assert _wait_for_messages(env) > 0, log_path.read_text()[-3000:]
            # The database, the broker and Redis answer the patched process too.
            assert _request(port, "readyz")[1] == "200", log_path.read_text()[-3000:]
        finally:
            stop_process(web)
    print(_report(layout, "quiet", quiet))
    print(_report(layout, "under attack", attacked))
    print(f"{layout}: {attack.opened} slow connections, {len(attack.lifetimes)} cut off")
    text = log_path.read_text()
    assert "WORKER TIMEOUT" not in text, text[-3000:]
    assert "Traceback" not in text and "broker unavailable" not in text, text[-3000:]
    for kind, expected in (("signup", "202"), ("healthz", "200")):
        statuses = {status for _, status in attacked[kind]}
        assert statuses == {expected}, (kind, _report(layout, "under attack", attacked))
        assert p99(attacked[kind]) < 1.0, _report(layout, "under attack", attacked)
    # Each slow client was cut off after its deadline; a slow body was told so (408).
    assert attack.refused == 0  # the server let every slow client in (WEB_CONNECTIONS not reached)
    assert len(attack.lifetimes) >= ATTACKERS, attack.lifetimes
    assert max(attack.lifetimes) < DEADLINE + 3, max(attack.lifetimes)
    assert any(answer.startswith(b"HTTP/1.1 408") for answer in attack.answers), attack.answers[:5]

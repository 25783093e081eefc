"""No signup lost to a database outage, in the production layout.

PostgreSQL is reached through a TCP proxy on loopback (tests/support/tcp_proxy.py) that the
test stops for 20 s, so the shared server is never touched: the web (the Procfile's line, two
gevent processes, Redis for limits and the spool) and a real Celery worker see connections
cut and then refused. Every signup during the outage must be answered 202 with the usual body,
and all of them applied afterwards, in order, exactly once: one subscriber and one consent
record each, and one confirmation email each at the relay (aiosmtpd on loopback). The admin
API answers 503 with Retry-After meanwhile; with the spool's Redis away too, a signup gets 503
with Retry-After. The seconds from the database's return to the last spooled signup applied
are printed (README, "Database away") and bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from service import create_app
from service.access.keys import create_api_key
from service.extensions import db
from service.models import Newsletter
from tests.conftest import ROOT, TEST_SECRET, RedisServer, migrate, scratch_postgres, start_worker
from tests.support.processes import free_port, stop_process, wait_for_http
from tests.support.smtp_server import SMTPServer
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

OUTAGE_SECONDS = 20
SIGNUP_EVERY = 0.5  # seconds: about 40 signups during the outage
# Seconds from the database's return to every spooled signup applied by the worker. The web
# retries every 0.5 s and the worker reconnects at once: measured 1 to 3 s on an idle machine;
# the bound allows for a machine shared by many test runs.
REPLAY_BOUND = 30.0


def _post(port: int, path: str, body: dict | None = None, key: str | None = None):
    """(status, headers, body bytes) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _sign_up(port: int, email: str):
    return _post(port, "/api/v1/subscriptions", {"email": email, "newsletters": "daily"})


def _applied(url: str) -> list[tuple[str, int]]:
    """(address, consent records) of every reader, in the order they were written."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT s.email, (SELECT count(*) FROM consent_records c WHERE c.subscriber_id = s.id)"
            " FROM subscribers s ORDER BY s.id"
        ).fetchall()


def _procfile_web() -> str:
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    return line.split(":", 1)[1].strip()


def test_signups_during_a_database_outage_are_all_applied_once_in_order(tmp_path):
    broker, limits = RedisServer().start(), RedisServer().start()
    port = free_port()
    web = worker = None
    try:
        with scratch_postgres() as url, SMTPServer() as relay:
            target = int(url.rsplit(":", 1)[1].split("/")[0])
            proxy = TcpProxy(target).start()
            proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/{url.rsplit('/', 1)[1]}"
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "INSTANCE_PATH": str(tmp_path),
                    "SECRET_KEYS": [TEST_SECRET],
                }
            )
            migrate(app)
            with app.app_context():
                db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
                db.session.commit()
                key = create_api_key("ops")
                db.engine.dispose()
            prefixes = ("CELERY_", "MAIL_", "REDIS_", "RATELIMIT_", "WEB_", "SIGNUP_", "DATABASE_")
            env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
            env.update(
                APP_ENV="production",
                PORT=str(port),
                HOST="127.0.0.1",
                PUBLIC_URL=f"http://127.0.0.1:{port}",
                INSTANCE_PATH=str(tmp_path),
                SECRET_KEY=TEST_SECRET,
                DATABASE_URL=proxied,
                CELERY_BROKER_URL=f"{broker.url}/0",
                REDIS_URL=f"{limits.url}/0",
                MAIL_URL=relay.url,
                MAIL_FROM="newsletter@news.example.org",
                WEB_CONCURRENCY="2",
                SIGNUP_MIN_SECONDS="0",
                SIGNUP_RATE_LIMIT_IP="100000/minute",
                DATABASE_CONNECT_TIMEOUT="2",
                PYTHONPATH=str(ROOT),
            )
            log = (tmp_path / "web.log").open("wb")
            web = subprocess.Popen(["sh", "-c", f"exec {_procfile_web()}"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            wait_for_http(f"http://127.0.0.1:{port}/healthz", web)
            worker = start_worker(env, tmp_path / "worker.log")

            before = [f"before.{i}@gmail.com" for i in range(3)]
            usual = {_sign_up(port, email)[2] for email in before}
            assert len(usual) == 1
            relay.wait_for(len(before), timeout=30)

            proxy.refuse()  # the database goes away: connections cut, new ones refused
            during, answers = [], []
            started = time.monotonic()
            while time.monotonic() - started < OUTAGE_SECONDS:
                email = f"during.{len(during):03d}@gmail.com"
                status, _, body = _sign_up(port, email)
                during.append(email)
                answers.append((status, body))
                time.sleep(SIGNUP_EVERY)
            admin = _post(port, "/api/v1/subscribers", key=key)
            assert {status for status, _ in answers} == {202}, answers[:3]
            assert {body for _, body in answers} == usual  # nothing tells the reader
            assert admin[0] == 503 and int(admin[1]["Retry-After"]) > 0
            assert json.loads(admin[2])["code"] == "database_unavailable"
            # Only those before the outage, each once; in any order, as two web processes
            # handed them to the worker (the spool's order is what is promised).
            assert sorted(_applied(url)) == [(email, 1) for email in before]  # all still waiting

            proxy.accept()  # the database is back
            back = time.monotonic()
            everyone = [*before, *during]

            def _all_in_order(rows: list[tuple[str, int]]) -> bool:
                first, rest = rows[: len(before)], rows[len(before) :]
                return sorted(first) == [(e, 1) for e in before] and rest == [
                    (e, 1) for e in during
                ]

            while not _all_in_order(rows := _applied(url)):
                assert time.monotonic() - back < REPLAY_BOUND, (len(rows), len(everyone))
                time.sleep(0.1)
            replayed = time.monotonic() - back
            print(f"{len(during)} signups during a {OUTAGE_SECONDS} s outage, all applied "
                  f"{replayed:.1f} s after the database came back")  # fmt: skip

            relay.wait_for(len(everyone), timeout=60)
            time.sleep(2)  # a second email would be on its way by now
            mails = [r for m in relay.messages for r in m.recipients]
            assert sorted(mails) == sorted(everyone)  # one confirmation per reader

            proxy.refuse()  # away again, and the spool's Redis with it: nothing can hold it
            limits.stop()
            status, headers, body = _sign_up(port, "nowhere@gmail.com")
            assert status == 503 and 0 < int(headers["Retry-After"]) <= 120
            answer = json.loads(body)
            assert answer["status"] == "error" and answer["code"] == "signup_unavailable"
            proxy.close()
            web_log = (tmp_path / "web.log").read_text()
            assert "Traceback" not in web_log, web_log[-3000:]
    finally:
        for process in (web, worker):
            if process is not None:
                stop_process(process)
        broker.stop()
        limits.stop()

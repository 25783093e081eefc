"""Bodies and headers as a client frames them, through the web as production runs it.

The Flask test client frames every body with a `Content-Length`; a real client may stream it
chunked, and may write any `Host` it likes. So the web here is the Procfile's gunicorn line
in production configuration (limits on, `PUBLIC_URL` a public https origin) on SQLite (the
embedded default: one process) and on PostgreSQL with Redis (several processes),
and each request is written byte by byte on a raw socket.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
from sqlalchemy import func, select

from service import create_app
from service.extensions import db
from service.models import Newsletter, OutboxJob
from tests.conftest import ROOT, free_port, migrate, scratch_postgres, stop_process
from tests.support.processes import wait_for_http
from tests.support.raw_http import Answer, chunked, exchange

PUBLIC_URL = "https://news.example.org"
PARTNER = "https://partner.example.org"
PRODUCTION_KEY = "served-input-production-key-" + "k" * 20
LIMIT = 16 * 1024
FORM = "application/x-www-form-urlencoded"


@dataclass
class Web:
    """The running web: its port and its database (to count what it stored)."""

    port: int
    database_url: str
    log: Path

    def stored_jobs(self) -> int:
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.database_url, "ENV": "test",
                          "SECRET_KEYS": [PRODUCTION_KEY], "INSTANCE_PATH": str(self.log.parent)})  # fmt: skip
        with app.app_context():
            try:
                return db.session.scalar(select(func.count()).select_from(OutboxJob))
            finally:
                db.session.remove()
                db.engine.dispose()

    def send(self, head: dict[str, str], body: bytes, *, path: str = "/api/v1/subscriptions",
             pieces: int = 4, host: str | None = None) -> Answer:  # fmt: skip
        """POST `body` chunked in `pieces`, as a streaming client sends it."""
        headers = {"Host": host or f"127.0.0.1:{self.port}", "Transfer-Encoding": "chunked",
                   "Connection": "close", **head}  # fmt: skip
        return exchange(self.port, "POST", path, headers, chunked(body, pieces))


def _procfile_web() -> str:
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    return line.split(":", 1)[1].strip()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web(request, tmp_path_factory, redis_server) -> Iterator[Web]:
    """The Procfile's web in production configuration, `daily` in its database."""
    tmp = tmp_path_factory.mktemp(f"served-{request.param}")
    sqlite = nullcontext(f"sqlite:///{tmp / 'served.db'}")
    with scratch_postgres() if request.param == "postgresql" else sqlite as database_url:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CELERY_", "MAIL_", "REDIS_", "RATELIMIT_", "WEB_", "SIGNUP_"))}  # fmt: skip
        port = free_port()
        env.update(APP_ENV="production", SECRET_KEY=PRODUCTION_KEY, PORT=str(port),
                   HOST="127.0.0.1", PUBLIC_URL=PUBLIC_URL, ALLOWED_ORIGINS=PARTNER,
                   DATABASE_URL=database_url, INSTANCE_PATH=str(tmp),
                   MAIL_URL=f"file://{tmp / 'outbox'}", CELERY_BROKER_URL=f"{redis_server.url}/5")  # fmt: skip
        if request.param == "postgresql":  # as production runs: shared limits, several processes
            redis.Redis.from_url(f"{redis_server.url}/6").flushdb()
            env["REDIS_URL"] = f"{redis_server.url}/6"
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ENV": "production",
                          "SECRET_KEYS": [PRODUCTION_KEY], "INSTANCE_PATH": str(tmp)})  # fmt: skip
        migrate(app)
        with app.app_context():
            db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        log = tmp / "web.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(["sh", "-c", f"exec {_procfile_web()}"], cwd=ROOT,
                                       env=env, stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
            yield Web(port, database_url, log)
        finally:
            stop_process(process)


def address() -> str:
    return f"reader-{uuid.uuid4().hex[:10]}@gmail.com"


def assert_too_large(answer: Answer) -> None:
    assert answer.status == 413, (answer.status, answer.body[:300])
    assert answer.json["status"] == "error" and answer.json["code"] == "too_large", answer.json


def test_a_chunked_form_over_the_limit_is_a_413_and_nothing_is_stored(web):
    before = web.stored_jobs()
    fields = {"email": address(), "newsletters": "daily", "name": "n" * LIMIT, "website": "x"}
    answer = web.send({"Content-Type": FORM}, urlencode(fields).encode())
    assert_too_large(answer)
    assert web.stored_jobs() == before


def test_a_chunked_json_body_over_the_limit_is_a_413(web):
    body = json.dumps({"email": address(), "newsletters": "daily", "name": "n" * (2 * LIMIT)})
    assert_too_large(web.send({"Content-Type": "application/json"}, body.encode(), pieces=40))


def test_a_chunked_body_past_the_limit_by_one_byte_is_a_413_and_at_it_is_read_whole(web):
    head = {"Content-Type": FORM}
    start = urlencode({"email": address(), "newsletters": "daily", "name": ""})
    pad = "&pad="  # a field the view ignores, to reach the exact length
    at_limit = (start + pad + "p" * (LIMIT - len(start) - len(pad))).encode()
    assert len(at_limit) == LIMIT
    assert_too_large(web.send(head, at_limit + b"p"))
    accepted = web.send(head, at_limit)
    assert accepted.status == 202, (accepted.status, accepted.body[:300])


def test_a_field_at_the_end_of_a_long_chunked_body_is_seen(web):
    """Within the limit, the whole body reaches the view: the last field decides."""
    head = {"Content-Type": FORM}
    fields = {"email": address(), "newsletters": "daily", "pad": "p" * (LIMIT - 200)}
    answer = web.send(head, urlencode({**fields, "locale": "xx"}).encode(), pieces=16)
    assert answer.status == 422 and answer.json["code"] == "unknown_locale", answer.body[:300]
    before = web.stored_jobs()
    trapped = web.send(head, urlencode({**fields, "website": "https://spam.example"}).encode())
    assert trapped.status == 202, trapped.body[:300]  # the honeypot's usual answer
    assert web.stored_jobs() == before  # and nothing stored


def test_a_chunked_body_within_the_limit_signs_up(web):
    before = web.stored_jobs()
    body = json.dumps({"email": address(), "newsletters": ["daily"], "locale": "uk"}).encode()
    answer = web.send({"Content-Type": "application/json"}, body)
    assert answer.status == 202, answer.body[:300]
    assert web.stored_jobs() == before + 1


def test_a_spoofed_host_does_not_make_its_origin_the_services_own(web):
    body = json.dumps({"email": address(), "newsletters": ["daily"]}).encode()
    head = {"Content-Type": "application/json", "Origin": "http://evil.example"}
    answer = web.send(head, body, host="evil.example")
    assert answer.status == 403 and answer.json["code"] == "origin_not_allowed", answer.body[:300]
    preflight = exchange(web.port, "OPTIONS", "/api/v1/subscriptions",
                         {"Host": "evil.example", "Origin": "http://evil.example",
                          "Access-Control-Request-Method": "POST", "Connection": "close"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers, preflight.headers
    for origin in (PUBLIC_URL, PARTNER):  # PUBLIC_URL's origin is ours, whatever the Host
        body = json.dumps({"email": address(), "newsletters": ["daily"]}).encode()
        ours = web.send({"Content-Type": "application/json", "Origin": origin}, body)
        assert ours.status == 202, (origin, ours.body[:300])

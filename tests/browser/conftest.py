"""Browser fixtures: the app under gunicorn, host pages on other origins, Debian's chromium.

The service runs as a real gunicorn process on 127.0.0.1 (its own SQLite database, migrated and
seeded with the demo newsletters by the `newsletter` CLI). News pages that embed the box are
served by a second tiny HTTP server on another port, so every signup is a real cross-origin
request with a CORS preflight. `ALLOWED_ORIGINS` names only the first host origin; a third
server plays a site that is not allowed.
"""

from __future__ import annotations

import http.server
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import start_worker
from tests.support.captcha_server import TURNSTILE_PASS, TURNSTILE_SITE_KEY, CaptchaServer
from tests.support.processes import free_port, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


PENDING_SIGNUPS = (
    "SELECT count(*) FROM outbox_jobs WHERE task = 'signups.apply' AND status = 'pending'"
)


@dataclass
class AppServer:
    """The service running under gunicorn."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen
    database: Path

    def subscriber_emails(self, timeout: float = 30.0) -> set[str]:
        """Every stored address, once the worker applied the signups accepted so far.

        Read straight from the SQLite file.
        """
        deadline = time.monotonic() + timeout
        with sqlite3.connect(self.database) as connection:
            while connection.execute(PENDING_SIGNUPS).fetchone()[0]:
                assert time.monotonic() < deadline, f"signups not applied in {timeout} s"
                time.sleep(0.1)
            return {row[0] for row in connection.execute("SELECT email FROM subscribers")}


def start_app(env: dict[str, str], log: Path, port: int | None = None) -> AppServer:
    """Run gunicorn as the Procfile does, with `env`, on `port` (a free one if None) and wait
    for /healthz."""
    port = port or free_port()
    env = {**env, "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                # The Procfile's worker (gevent, read deadlines): one process without REDIS_URL.
                "--config",
                "gunicorn_web.py",
                "--bind",
                f"127.0.0.1:{port}",
                "service:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/healthz", process)
    return AppServer(url, env, process, Path(env["DATABASE_URL"].removeprefix("sqlite:///")))


@dataclass
class HostSite:
    """A news site on its own origin: pages are registered by path and served as HTML."""

    url: str
    pages: dict[str, str] = field(default_factory=dict)

    def page(self, body: str, title: str = "Host article") -> str:
        """Register a page holding `body` and return its URL."""
        path = f"/article-{uuid.uuid4().hex[:8]}.html"
        self.pages[path] = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            # Hostile host CSS: the shadow root must keep the box intact.
            "<style>input,button,label,h2{all:unset;color:red!important;font-size:40px}</style>"
            f"</head><body><main><h1>{title}</h1>{body}</main></body></html>"
        )
        return self.url + path


def serve_host_site() -> tuple[HostSite, http.server.ThreadingHTTPServer]:
    """Start a threaded HTTP server on a free loopback port serving a HostSite's pages."""
    site = HostSite("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = site.pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site, server


@pytest.fixture(scope="session")
def host_sites() -> Iterator[tuple[HostSite, HostSite]]:
    """Two news sites on their own origins: the first is allowed, the second is not."""
    allowed, server_a = serve_host_site()
    other, server_b = serve_host_site()
    yield allowed, other
    for server in (server_a, server_b):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def embed_env(tmp_path_factory, host_sites) -> dict[str, str]:
    """Environment for the service: fresh SQLite database, migrated and seeded."""
    tmp = tmp_path_factory.mktemp("embed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MAIL_", "REDIS"))}
    env.update(
        APP_ENV="test",
        DATABASE_URL=f"sqlite:///{tmp / 'embed.db'}",
        CELERY_BROKER_URL=f"sqla+sqlite:///{tmp / 'broker.db'}",
        MAIL_URL=f"file://{tmp / 'outbox'}",
        SECRET_KEY="browser-test-secret",
        INSTANCE_PATH=str(tmp),
        ALLOWED_ORIGINS=host_sites[0].url,
        RATELIMIT_ENABLED="false",
        # The real wait path, kept short: every box waits out 1 s after it is drawn.
        SIGNUP_MIN_SECONDS="1",
        PYTHONPATH=str(ROOT),
    )
    # The worker builds the links in emails: the same PUBLIC_URL as `app_server`, as under
    # `make run` (the other servers below are extra web processes on other ports).
    port = free_port()
    env.update(PORT=str(port), PUBLIC_URL=f"http://127.0.0.1:{port}")
    for command in (["db", "upgrade", "heads"], ["seed-demo"]):
        done = subprocess.run(
            [str(VENV_BIN / "newsletter"), *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"newsletter {' '.join(command)}:\n{done.stderr}"
    return env


@pytest.fixture(scope="session")
def worker(embed_env, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """A Celery worker on the embedded SQLite broker, as `make run` has: it applies the
    signups that every service process below stores."""
    process = start_worker(embed_env, tmp_path_factory.getbasetemp() / "worker.log")
    yield process
    stop_process(process)


@pytest.fixture(scope="session")
def app_server(embed_env, worker, tmp_path_factory) -> Iterator[AppServer]:
    """The service under gunicorn with rate limits off."""
    log = tmp_path_factory.getbasetemp() / "gunicorn.log"
    server = start_app(embed_env, log, port=int(embed_env["PORT"]))
    yield server
    stop_process(server.process)


@pytest.fixture
def limited_server(embed_env, worker, tmp_path) -> Iterator[AppServer]:
    """A second service process on the same database that allows 2 signups a minute per IP."""
    env = {**embed_env, "RATELIMIT_ENABLED": "true", "SIGNUP_RATE_LIMIT_IP": "2/minute"}
    server = start_app(env, tmp_path / "gunicorn-limited.log")
    yield server
    stop_process(server.process)


@pytest.fixture
def patient_server(embed_env, worker, tmp_path) -> Iterator[AppServer]:
    """A second service process on the same database that wants 3 s between box and signup."""
    env = {**embed_env, "SIGNUP_MIN_SECONDS": "3"}
    server = start_app(env, tmp_path / "gunicorn-patient.log")
    yield server
    stop_process(server.process)


@pytest.fixture
def captcha_verifier() -> Iterator[CaptchaServer]:
    """The stand-in for Turnstile's siteverify (tests/support/captcha_server.py)."""
    with CaptchaServer() as server:
        yield server


@pytest.fixture
def captcha_server(embed_env, worker, tmp_path, captcha_verifier) -> Iterator[AppServer]:
    """A second service process on the same database with Turnstile on (documented test keys)."""
    env = {
        **embed_env,
        "CAPTCHA_PROVIDER": "turnstile",
        "CAPTCHA_SITE_KEY": TURNSTILE_SITE_KEY,
        "CAPTCHA_SECRET_KEY": TURNSTILE_PASS,
        "CAPTCHA_VERIFY_URL": captcha_verifier.url("turnstile"),
    }
    server = start_app(env, tmp_path / "gunicorn-captcha.log")
    yield server
    stop_process(server.process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (never a downloaded browser).

    Module-scoped: Playwright's sync API allows one running instance per thread, so a module
    that starts its own (test_preferences.py) must find none left over from the previous one.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile for one test."""
    context = browser.new_context(viewport={"width": 900, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab in the fresh profile."""
    return context.new_page()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots of each state are kept (test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def serious_axe_violations(page: Page) -> list[dict]:
    """Serious and critical axe-core violations on the page (WCAG 2.1 A/AA + best practice),
    with the vendored axe-core (tests/browser/vendor/)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]

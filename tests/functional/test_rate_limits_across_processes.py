"""The signup rate limits hold for the web as `make run` starts it, whatever its processes.

The Procfile's `web` line runs in a subprocess through the shell, as honcho runs it, on the
embedded default (no `REDIS_URL`, so no shared counter store). From one IP, 40 signups at
once: exactly 20 (`SIGNUP_RATE_LIMIT_IP`'s 20/minute) are accepted and the rest answer 429.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from service import create_app
from service.extensions import db
from service.models import Newsletter
from tests.conftest import ROOT, TEST_SECRET, free_port, migrate, stop_process, unique_email


def _procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"the Procfile has no {name!r} process")


def _sign_up(base: str) -> int:
    body = json.dumps({"email": unique_email(), "newsletters": "daily"}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/subscriptions", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_default_web_holds_the_ip_limit_across_its_processes(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "MAIL_", "REDIS_", "RATELIMIT_", "WEB_", "SIGNUP_"))
    }
    port = free_port()
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'limits.db'}",
        INSTANCE_PATH=str(tmp_path),
        SECRET_KEY=TEST_SECRET,
        MAIL_URL=f"file://{tmp_path / 'outbox'}",
    )
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEYS": [TEST_SECRET],
        }
    )
    assert app.config["REDIS_URL"] is None  # the embedded default
    migrate(app)
    with app.app_context():
        db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
        db.session.commit()
        db.engine.dispose()

    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        web = subprocess.Popen(
            ["sh", "-c", f"exec {_procfile_command('web')}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, web, log_path)
        time.sleep(3)  # every web process has booted, not only the first to answer
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _sign_up(base), range(40)))
        workers = len(re.findall(r"Booting worker with pid", log_path.read_text()))
        assert workers >= 1, log_path.read_text()
        assert sorted(statuses) == [202] * 20 + [429] * 20, (workers, statuses)
        assert _sign_up(base) == 429  # and the next one too
    finally:
        stop_process(web)


def _wait_for(base: str, web: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert web.poll() is None, log_path.read_text()
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the web process did not answer: {log_path.read_text()[-2000:]}")

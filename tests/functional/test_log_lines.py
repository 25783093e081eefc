"""Every line every process writes is JSON, and a request id follows a signup to its email.

Two layouts, each run as real subprocesses: what `make run` starts (its setup commands, then
`newsletter start` supervising the Procfile on SQLite, the embedded broker and the file
outbox), and the production layout (the Procfile's `web` line as two gunicorn processes, a
`newsletter worker` and a `newsletter beat`, each on its own, on PostgreSQL and Redis, mail
to an SMTP server). A reader signs up with an `X-Request-ID` and confirms with another. Then
every line written to stdout and to stderr by every process is parsed as a JSON object, and
the signup's id is found on the web's access line, on the worker's line applying the signup
and on its line sending the confirmation; the confirmation click's id on its access line;
the reader's token on none.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import requests

from service.extensions import db
from service.models import Newsletter
from tests.conftest import ROOT, app_for, migrate, scratch_postgres, stack_env, unique_email
from tests.functional.test_first_hour import NEWSLETTER, clean_env
from tests.functional.test_rate_limits_across_processes import _procfile_command
from tests.support.processes import free_port, stop_process, wait_for_http

CONFIRM_LINK = re.compile(r"/confirm/[A-Za-z0-9_.-]+")


def _entries(paths: Iterable[Path]) -> list[dict]:
    """Every line of these files, each parsed; fails naming the first that is no JSON object."""
    entries = []
    for path in paths:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            assert isinstance(entry, dict), f"{path.name}:{number} is not a JSON object: {line!r}"
            entries.append(entry)
    return entries


def _sign_up_and_confirm(base: str, slug: str, mail_text) -> tuple[str, str, str]:
    """Sign a reader up and confirm; (signup's request id, confirmation's, the link's token)."""
    signup_id, confirm_id = f"signup-{uuid.uuid4().hex[:8]}", f"confirm-{uuid.uuid4().hex[:8]}"
    email = unique_email()
    answer = requests.post(
        f"{base}/api/v1/subscriptions",
        json={"email": email, "newsletters": slug},
        headers={"X-Request-ID": signup_id},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    assert answer.headers["X-Request-ID"] == signup_id
    path = CONFIRM_LINK.search(mail_text(email)).group(0)
    done = requests.post(base + path, headers={"X-Request-ID": confirm_id}, timeout=10)
    assert done.status_code == 200 and done.headers["X-Request-ID"] == confirm_id
    return signup_id, confirm_id, path.rsplit("/", 1)[1]


def _wait_for(find, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


def _assert_followed(entries: list[dict], signup_id: str, confirm_id: str, token: str) -> None:
    """The signup's id on the web, apply and confirmation-mail lines; no token anywhere."""

    def having(request_id: str, **fields: object) -> list[dict]:
        return [
            e
            for e in entries
            if e.get("request_id") == request_id and all(e.get(k) == v for k, v in fields.items())
        ]

    web = having(signup_id, logger="gunicorn.access", path="/api/v1/subscriptions", status=202)
    assert len(web) == 1 and web[0]["role"] == "web", web
    applied = [
        e
        for e in entries
        if e["logger"] == "service.signup.apply" and signup_id in e.get("request_ids", ())
    ]  # one line per batch of signups, naming each one's request
    assert len(applied) == 1 and applied[0]["role"] == "worker", applied
    mailed = having(signup_id, logger="service.outbox.runner", task="mail.send_confirmation")
    assert len(mailed) == 1 and "done" in mailed[0]["message"] and mailed[0]["role"] == "worker"
    clicked = having(confirm_id, logger="gunicorn.access", method="POST", status=200)
    assert [e["path"] for e in clicked] == ["/confirm/[redacted]"]
    assert not any(token in json.dumps(e) for e in entries)
    roles = {e["role"] for e in entries}
    assert {"web", "worker", "beat"} <= roles, roles
    for entry in entries:
        assert {"ts", "level", "logger", "message", "role"} <= set(entry), entry


def test_make_run_writes_only_json_lines_and_follows_a_request(tmp_path):
    port = free_port()
    instance = tmp_path / "instance"
    env = clean_env(PORT=str(port), INSTANCE_PATH=str(instance), OUTBOX_SWEEP_INTERVAL="1")
    env.pop("PUBLIC_URL", None)
    logs: list[Path] = []
    for command in (["db", "upgrade"], ["seed-demo"], ["banner"]):  # as `make run` runs them
        out, err = tmp_path / f"{command[0]}.out", tmp_path / f"{command[0]}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            subprocess.run(
                [str(NEWSLETTER), *command], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
            ).check_returncode()
        logs += [out, err]
    out, err = tmp_path / "start.out", tmp_path / "start.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        supervisor = subprocess.Popen(
            [str(NEWSLETTER), "start"], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )
    logs += [out, err]
    outbox = instance / "outbox"

    def mail_text(email: str) -> str:
        def find() -> str | None:
            for path in outbox.glob("*.eml") if outbox.is_dir() else ():
                text = path.read_text(errors="replace")
                if email in text and "/confirm/" in text:
                    return text.replace("=\n", "").replace("=3D", "=")
            return None

        return _wait_for(find, f"confirmation email to {email}")

    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", supervisor, timeout=90)
        _wait_for(lambda: b"ready." in out.read_bytes(), "ready worker")
        ids = _sign_up_and_confirm(f"http://127.0.0.1:{port}", "daily", mail_text)
        _wait_for(lambda: b"beat: Starting" in out.read_bytes(), "beat's start")
    finally:
        stop_process(supervisor, timeout=40)
    assert supervisor.returncode == 0, out.read_text()[-3000:]
    entries = _entries(logs)
    _assert_followed(entries, *ids)
    assert any(e["message"] == "all stopped" and e["role"] == "supervisor" for e in entries)
    assert any("Demo signup page" in e["message"] for e in entries)  # the banner, as JSON


def test_the_production_layout_writes_only_json_lines_and_follows_a_request(
    tmp_path, redis_server, smtp_server
):
    smtp_server.clear()
    instance = tmp_path / "instance"
    instance.mkdir()
    port = free_port()
    with scratch_postgres() as database_url:
        env = stack_env(
            database_url,
            f"{redis_server.url}/3",
            f"{redis_server.url}/4",
            smtp_server.url,
            instance,
            public_url=f"http://127.0.0.1:{port}",
        )
        env.update(APP_ENV="production", PORT=str(port), HOST="127.0.0.1", WEB_CONCURRENCY="2")
        app = app_for(env)
        migrate(app)
        with app.app_context():
            db.session.add(Newsletter(slug="daily", name="Daily"))
            db.session.commit()
            db.engine.dispose()
        worker_name = f"logs-{uuid.uuid4().hex[:8]}@%h"
        commands = {
            "web": _procfile_command("web"),
            "worker": f"{_procfile_command('worker')} --hostname {worker_name}",
            "beat": _procfile_command("beat"),
        }
        processes: dict[str, subprocess.Popen] = {}
        logs: list[Path] = []
        try:
            for name, command in commands.items():
                out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
                with out.open("wb") as stdout, err.open("wb") as stderr:
                    processes[name] = subprocess.Popen(
                        ["sh", "-c", f"exec {command}"],
                        cwd=ROOT,
                        env=env,
                        stdout=stdout,
                        stderr=stderr,
                    )
                logs += [out, err]
            wait_for_http(f"http://127.0.0.1:{port}/healthz", processes["web"], timeout=60)
            worker_log = tmp_path / "worker.err"
            _wait_for(lambda: b"ready." in worker_log.read_bytes(), "ready worker")

            def mail_text(email: str) -> str:
                def find() -> str | None:
                    for message in smtp_server.messages:
                        if email in message.recipients:
                            return message.message.get_body(("plain",)).get_content()
                    return None

                return _wait_for(find, f"confirmation email to {email}")

            ids = _sign_up_and_confirm(f"http://127.0.0.1:{port}", "daily", mail_text)
            beat_log = tmp_path / "beat.err"
            _wait_for(lambda: b"beat: Starting" in beat_log.read_bytes(), "beat's start")
        finally:
            for process in processes.values():
                stop_process(process, timeout=40)
    entries = _entries(logs)
    _assert_followed(entries, *ids)
    booted = [e for e in entries if "Booting worker" in e["message"]]
    assert len(booted) >= 2, booted  # two gunicorn processes, both in the format

"""Metrics on the production layout: scraped during a real send, they move as it does and add
up across processes, and they survive restarts.

The stack: the Procfile's `web` line (gunicorn, two processes with `REDIS_URL`), its
`worker` line (Celery's prefork pool, two child processes), Redis, PostgreSQL and the
aiosmtpd relay, all sharing one `PROMETHEUS_MULTIPROC_DIR` that `newsletter metrics clean`
emptied first, as the README says to at the stack's start. Every scrape is answered by one
of the two web processes, so a total that is right on every scrape is the sum over all of
them. Timing: the send is slowed to 60 messages/s by the newsletter's rate limit so that a
few scrapes fall inside it; nothing here asserts a duration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from service.extensions import db
from service.models import Heartbeat, Newsletter, Send
from service.sending import scheduling
from tests.conftest import (
    ROOT,
    RedisServer,
    app_for,
    migrate,
    scratch_postgres,
    stack_env,
    stop_process,
    unique_email,
)
from tests.functional.test_sending import fresh_article, reader
from tests.support.processes import free_port, wait_for_http
from tests.support.smtp_server import SMTPServer

pytestmark = pytest.mark.postgres
TOKEN = "metrics-token-for-the-tests-0123456789abcdef"
READERS = 240
FINAL = {"sent", "failed", "cancelled", "skipped"}

Samples = dict[tuple[str, frozenset], float]


def procfile(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"the Procfile has no {name!r} process")


def start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A Procfile line through the shell, as `newsletter start` and honcho run it."""
    with log.open("ab") as out:
        return subprocess.Popen(
            ["sh", "-c", f"exec {procfile(name)}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_until(check, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"{what} not within {timeout} s\n{tail}")
        time.sleep(0.1)


def scrape(base: str, token: str | None = TOKEN) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{base}/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


def status_of(base: str, token: str | None) -> int:
    try:
        scrape(base, token)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def sign_up(base: str, **fields: object) -> int:
    body = json.dumps({"email": unique_email(), "newsletters": "daily", **fields}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/subscriptions", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def files_of(directory: Path, pids: set[int], kind: str = "counter") -> set[int]:
    """Which of `pids` wrote `kind` files (a process writes one once it counted something)."""
    return {pid for pid in pids if (directory / f"{kind}_{pid}.db").exists()}


@pytest.fixture
def layout(tmp_path) -> Iterator[dict]:
    with ExitStack() as stack:
        redis = RedisServer().start()
        stack.callback(redis.stop)
        smtp = stack.enter_context(SMTPServer())
        database = stack.enter_context(scratch_postgres())
        port = free_port()
        metrics_dir = tmp_path / "metrics"
        env = stack_env(
            database,
            f"{redis.url}/0",
            f"{redis.url}/1",
            smtp.url,
            tmp_path,
            public_url=f"http://127.0.0.1:{port}",
        )
        env = {k: v for k, v in env.items() if not k.startswith(("WEB_", "WORKER_"))}
        env.update(
            PORT=str(port),
            HOST="127.0.0.1",
            METRICS_TOKEN=TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            SIGNUP_MIN_SECONDS="0",
            SEND_BATCH_SIZE="20",
            SEND_CONNECTIONS="2",
            HEARTBEAT_SECONDS="2",
        )
        app = app_for(env)
        migrate(app)
        stack.enter_context(app.app_context())
        stack.callback(db.engine.dispose)
        stack.callback(db.session.remove)
        metrics_dir.mkdir()
        (metrics_dir / "counter_1.db").write_bytes(b"left over from an earlier run")
        cleaned = subprocess.run(
            [str(ROOT / ".venv/bin/newsletter"), "metrics", "clean"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "1 metric files removed" in cleaned.stdout, cleaned
        news = Newsletter(slug="daily", name="Daily", rate_limit_per_second=60)
        db.session.add(news)
        db.session.commit()
        web = start("web", env, tmp_path / "web.log")
        stack.callback(stop_process, web, 20)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", web)
        wait_until(lambda: len(children(web.pid)) == 2, 30, "two web processes")
        yield {
            "env": env,
            "base": base,
            "web": web,
            "dir": metrics_dir,
            "news": news,
            "smtp": smtp,
            "tmp": tmp_path,
            "stack": stack,
        }


def start_worker(layout: dict) -> subprocess.Popen:
    log = layout["tmp"] / "worker.log"
    worker = start("worker", layout["env"], log)
    layout["stack"].callback(stop_process, worker, 30)

    def ready() -> bool:
        db.session.commit()
        seen = db.session.scalar(select(Heartbeat.name).where(Heartbeat.kind == "worker"))
        return seen is not None and len(children(worker.pid)) >= 2

    wait_until(ready, 60, "the worker's heartbeat and its two pool children", log)
    return worker


def wait_final(send_id: int, timeout: float = 60) -> Send:
    def final():
        db.session.commit()
        send = db.session.get(Send, send_id, populate_existing=True)
        return send if send.status in FINAL else None

    return wait_until(final, timeout, f"send {send_id} to end")


def test_metrics_follow_a_send_and_add_up_across_processes(layout):
    base, directory, web = layout["base"], layout["dir"], layout["web"]

    # The token: none or another is 401, with the scheme named.
    assert status_of(base, None) == 401
    assert status_of(base, "not-the-token") == 401

    # Signups before any worker runs: they wait in the outbox, and the gauges say so.
    web_pids = children(web.pid)
    sent = 0
    while files_of(directory, web_pids) != web_pids:  # until both web processes counted
        assert sign_up(base) == 202
        sent += 1
        assert sent <= 400, "one web process answered every signup"
    assert sign_up(base, website="http://spam.example") == 202  # the honeypot: a bot
    assert sign_up(base, email="not an address") == 422
    assert sign_up(base, newsletters="no-such-newsletter") == 422
    for _ in range(4):  # whichever process answers, the totals are every process's
        samples = scrape(base)
        assert total(samples, "newsletter_signups_total", outcome="accepted") == sent
        assert (
            total(samples, "newsletter_signups_total", outcome="accepted", newsletter="daily")
            == sent
        )
        assert total(samples, "newsletter_signups_total", outcome="bot", newsletter="daily") == 1
        assert total(samples, "newsletter_signups_total", outcome="invalid") == 2
        # a slug nobody has is never a label
        assert not [k for k in samples if ("newsletter", "no-such-newsletter") in k[1]]
        assert total(samples, "newsletter_outbox_jobs_waiting", task="signups.apply") == sent
        assert total(samples, "newsletter_outbox_oldest_waiting_seconds", task="signups.apply") > 0
        assert total(samples, "newsletter_processes_alive", kind="worker") == 0

    worker = start_worker(layout)
    wait_until(
        lambda: total(scrape(base), "newsletter_outbox_jobs_waiting", task="signups.apply") == 0,
        60,
        "the signups applied",
    )
    samples = scrape(base)
    assert (
        total(samples, "newsletter_outbox_jobs_total", task="signups.apply", outcome="done") == sent
    )
    assert total(samples, "newsletter_processes_alive", kind="worker") == 1

    # A send of READERS at 60/s: scraped while it goes, its figures only rise.
    news = layout["news"]
    for _ in range(READERS):
        reader(news)
    fresh_article()
    send_id = scheduling.create_send(news).id
    seen: list[tuple[float, float, float]] = []  # (the send's sent, deliveries, in progress)
    while True:
        samples = scrape(base)
        handled = total(samples, "newsletter_send_handled", send_id=str(send_id), outcome="sent")
        if not any(k[0] == "newsletter_send_recipients" for k in samples):
            handled = READERS if seen and seen[-1][0] else 0  # before it started, after it ended
        seen.append(
            (
                handled,
                total(samples, "newsletter_deliveries_total", outcome="sent"),
                total(samples, "newsletter_tasks_in_progress", task="sending.batch"),
            )
        )
        db.session.commit()
        if db.session.get(Send, send_id, populate_existing=True).status in FINAL:
            break
        assert len(seen) < 600, seen[-5:]
        time.sleep(0.2)
    assert wait_final(send_id).status == "sent"
    middle = [s for s in seen if 0 < s[0] < READERS]
    assert len(middle) >= 2, seen  # scrapes fell inside the send
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)  # progress never goes back
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
    assert max(s[2] for s in seen) >= 1  # a batch in progress was seen
    samples = scrape(base)
    assert total(samples, "newsletter_deliveries_total", outcome="sent") == READERS
    assert total(samples, "newsletter_smtp_answer_seconds_count", answer="2xx") >= READERS
    batches = total(samples, "newsletter_batch_duration_seconds_count", ended="finished")
    assert batches >= READERS / 20
    assert total(samples, "newsletter_tasks_in_progress") == 0
    assert not [k for k in samples if k[0] == "newsletter_send_handled"]  # only active sends
    pool = children(worker.pid)
    assert len(files_of(directory, pool)) == 2, "both pool children delivered"

    # Restarts: a pool child killed, a web process killed, the whole worker restarted.
    # The multiprocess files stay (cleaned only at the stack's start), so nothing goes down.
    os.kill(sorted(pool)[0], signal.SIGKILL)
    wait_until(lambda: len(children(worker.pid) - pool) == 1, 30, "a new pool child")
    killed = sorted(web_pids)[0]
    MmapedDict(str(directory / f"gauge_livesum_{killed}.db")).close()  # a live gauge of its own
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: len(children(web.pid) - web_pids) == 1, 30, "a new web process")
    wait_for_http(f"{base}/healthz", web)
    assert not (directory / f"gauge_livesum_{killed}.db").exists()  # gunicorn's child_exit
    live = files_of(directory, children(worker.pid), "gauge_livesum")
    assert live, "the pool child that lived on keeps its in-progress gauge"
    stop_process(worker, 30)
    assert files_of(directory, live, "gauge_livesum") == set()  # worker_process_shutdown
    worker = start_worker(layout)
    for _ in range(3):
        samples = scrape(base)
        assert total(samples, "newsletter_deliveries_total", outcome="sent") == READERS
        assert total(samples, "newsletter_signups_total", outcome="accepted") == sent

    # And the next send adds to them, counted by the new processes.
    for _ in range(40):
        reader(news)
    fresh_article()
    second = scheduling.create_send(news).id
    assert wait_final(second).status == "sent"
    samples = scrape(base)
    assert total(samples, "newsletter_deliveries_total", outcome="sent") == 2 * READERS + 40
    assert total(samples, "newsletter_tasks_in_progress") == 0

"""/readyz tells the truth (issue 23): a worker or beat killed with SIGKILL is named as a
warning once its heartbeats stop (200), a worker stopped cleanly is not, and the limits'
Redis down is an error (503) naming it; on SQLite and PostgreSQL, with real processes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.extensions import db
from tests.conftest import (
    ROOT,
    RedisServer,
    app_for,
    migrate,
    scratch_postgres,
    stack_env,
    start_worker,
    stop_process,
)

PERIOD = "1"  # HEARTBEAT_SECONDS: a process is reported after 3 missed beats


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
    else:
        with scratch_postgres() as url:
            yield url


def start_beat(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Celery beat for `tasks.worker`, as the Procfile's `newsletter beat` runs it."""
    schedule = Path(env["INSTANCE_PATH"]) / "beat-schedule"
    command = [sys.executable, "-m", "celery", "-A", "tasks.worker", "beat", "-s", str(schedule)]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT
    )


def wait_until(web, accept: Callable[[dict], bool], timeout: float = 30.0) -> tuple[int, dict]:
    """Poll /readyz until `accept(body)`; its status code and body."""
    deadline = time.monotonic() + timeout
    while True:
        response = web.get("/readyz")
        if accept(response.json) or time.monotonic() > deadline:
            return response.status_code, response.json
        time.sleep(0.25)


def named(body: dict, kind: str) -> dict[str, dict]:
    return {name: check for name, check in body["checks"].items() if name.startswith(kind + ":")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_readyz_names_a_killed_worker_and_beat_and_a_dead_limiter_redis(
    backend, tmp_path, smtp_server
):
    broker, limits = RedisServer().start(), RedisServer().start()
    processes: list[subprocess.Popen] = []
    try:
        with database(backend, tmp_path) as url:
            env = stack_env(url, f"{broker.url}/0", f"{limits.url}/0", smtp_server.url, tmp_path)
            env["HEARTBEAT_SECONDS"] = PERIOD
            app = app_for(env, HEARTBEAT_SECONDS=float(PERIOD))
            migrate(app)
            with app.app_context():
                web = app.test_client()
                code, body = web.get("/readyz").status_code, web.get("/readyz").json
                assert code == 200 and body["status"] == "warning"  # nothing has beaten yet
                assert body["checks"]["workers"]["status"] == "warning"
                assert body["checks"]["beat"]["status"] == "warning"

                worker = start_worker(env, tmp_path / "worker.log")
                processes.append(worker)
                processes.append(start_beat(env, tmp_path / "beat.log"))
                code, body = wait_until(web, lambda b: b["status"] == "ok")
                assert (code, body["status"]) == (200, "ok"), body
                [worker_name] = named(body, "worker")
                [beat_name] = named(body, "beat")
                assert body["checks"][worker_name]["age_seconds"] < 3

                worker.kill()  # SIGKILL: no clean shutdown, no goodbye
                worker.wait(10)
                code, body = wait_until(web, lambda b: b["checks"][worker_name]["status"] != "ok")
                check = body["checks"][worker_name]
                assert code == 200 and body["status"] == "warning", body
                assert check["status"] == "warning" and check["age_seconds"] > 3, check
                assert "no heartbeat" in check["message"]
                assert body["checks"][beat_name]["status"] == "ok"
                assert body["checks"]["database"]["status"] == "ok"

                processes[1].kill()
                processes[1].wait(10)
                code, body = wait_until(web, lambda b: b["checks"][beat_name]["status"] != "ok")
                assert code == 200 and body["checks"][beat_name]["status"] == "warning"

                # A worker stopped cleanly (SIGTERM, as a supervisor scales down) is no failure.
                calm = start_worker(env, tmp_path / "calm.log")
                processes.append(calm)
                code, body = wait_until(web, lambda b: len(named(b, "worker")) == 2)
                [calm_name] = set(named(body, "worker")) - {worker_name}
                assert body["checks"][calm_name]["status"] == "ok"
                stop_process(calm)
                code, body = wait_until(web, lambda b: calm_name not in b["checks"])
                assert calm_name not in body["checks"] and worker_name in body["checks"]

                limits.stop()  # the limiter's Redis is down: a dependency, so 503
                ready = web.get("/readyz")
                assert ready.status_code == 503 and ready.json["status"] == "unavailable"
                assert ready.json["checks"]["redis"] == {
                    "status": "error",
                    "error": "ConnectionError",
                }
                assert ready.json["checks"]["broker"]["status"] == "ok"
                db.session.remove()
            with app.app_context():
                db.engine.dispose()
    finally:
        for process in processes:
            stop_process(process)
        broker.stop()
        limits.stop()

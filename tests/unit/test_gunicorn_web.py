"""The web's gunicorn settings (`gunicorn_web.py`) as each environment makes them.

What the worker does with slow clients is shown against a real server in
tests/reliability/test_slow_clients.py; here only the settings read from the environment.
"""

from __future__ import annotations

import os
import resource
import runpy
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NAMES = (
    "REDIS_URL",
    "WEB_CONCURRENCY",
    "WEB_CONNECTIONS",
    "WEB_HEADER_TIMEOUT",
    "WEB_BODY_TIMEOUT",
)


def settings(monkeypatch, **env: str) -> dict:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn_web.py"))


def test_the_embedded_default_is_one_gevent_process_with_deadlines(monkeypatch):
    config = settings(monkeypatch)
    assert config["workers"] == 1
    assert config["worker_class"].__name__ == "SlowClientWorker"
    assert config["worker_connections"] == 1000
    assert (config["header_timeout"], config["body_timeout"]) == (10.0, 10.0)
    assert config["keepalive"] == 10  # gunicorn applies the header deadline only when > 0


def test_shared_counters_allow_several_processes(monkeypatch):
    config = settings(
        monkeypatch,
        REDIS_URL="redis://127.0.0.1:6379/1",
        WEB_CONCURRENCY="3",
        WEB_HEADER_TIMEOUT="2.5",
        WEB_BODY_TIMEOUT=" ",
    )
    assert config["workers"] == 3
    assert (config["header_timeout"], config["body_timeout"]) == (2.5, 10.0)
    assert config["keepalive"] == 3


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan"])
def test_a_deadline_that_is_no_positive_number_stops_the_start_naming_it(monkeypatch, value):
    with pytest.raises(SystemExit) as stopped:
        settings(monkeypatch, WEB_BODY_TIMEOUT=value)
    assert str(stopped.value) == f"WEB_BODY_TIMEOUT must be a positive number, not {value!r}"


def test_the_open_files_limit_is_raised_for_the_connections():
    """A service started with the usual soft limit of 1024 still takes WEB_CONNECTIONS sockets."""
    script = (
        "import resource, runpy; runpy.run_path('gunicorn_web.py'); "
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    done = subprocess.run(
        ["sh", "-c", f'ulimit -Sn 1024 && exec "$0" -c "{script}"', sys.executable],
        cwd=ROOT,
        env={**os.environ, "WEB_CONNECTIONS": "2000"},
        capture_output=True,
        text=True,
        check=True,
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = 2000 + 256
    assert int(done.stdout) == (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard))

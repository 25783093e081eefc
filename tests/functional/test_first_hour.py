"""A fresh clone started as a newcomer or an operator would: production start, banner, API index.

The commands run as real subprocesses of `.venv/bin/newsletter` on a temporary INSTANCE_PATH,
so nothing here touches the repository's own `instance/`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from service import create_app
from service.cli.core import banner
from service.config import ConfigError, load_settings
from tests.conftest import ROOT, scratch_postgres

NEWSLETTER = ROOT / ".venv" / "bin" / "newsletter"
PRODUCTION_KEY = "k" * 40


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of the service's variables, plus `extra`."""
    prefixes = ("CELERY_", "MAIL_", "DATABASE_", "INSTANCE_", "SECRET_", "APP_ENV", "REDIS_")
    # A shell at a terminal is not inside make: `make test`'s own MAKELEVEL would make a nested
    # `make run` print "Entering directory" lines.
    prefixes += ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKE_TERM")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NEWSLETTER), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_production_start_on_a_fresh_instance_path(tmp_path):
    instance = tmp_path / "not" / "there" / "yet"
    env = clean_env(APP_ENV="production", SECRET_KEY=PRODUCTION_KEY, INSTANCE_PATH=str(instance))
    upgrade = run_cli("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (instance / "newsletter.db").is_file()
    seed = run_cli("seed-demo", env=env)
    assert seed.returncode == 0 and "skipped" in seed.stdout
    shown = run_cli("banner", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "/api/v1/" in shown.stdout and "/readyz" in shown.stdout
    assert "/docs" in shown.stdout
    assert "/dev/outbox" not in shown.stdout and "Demo signup page" not in shown.stdout


def test_beat_keeps_its_schedule_in_a_folder_that_exists(tmp_path):
    instance = tmp_path / "fresh"
    app = create_app(
        {"ENV": "production", "SECRET_KEYS": [PRODUCTION_KEY], "INSTANCE_PATH": str(instance)}
    )
    schedule = Path(app.extensions["celery"].conf.beat_schedule_filename)
    assert schedule.parent == instance and instance.is_dir()


def test_beat_starts_in_production_on_postgresql(tmp_path):
    instance = tmp_path / "beat-instance"
    with scratch_postgres() as url:
        env = clean_env(
            APP_ENV="production",
            SECRET_KEY=PRODUCTION_KEY,
            INSTANCE_PATH=str(instance),
            DATABASE_URL=url,
        )
        assert run_cli("db", "upgrade", env=env).returncode == 0
        log = (tmp_path / "beat.log").open("wb")
        beat = subprocess.Popen(
            [str(NEWSLETTER), "beat"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while not list(instance.glob("celerybeat-schedule*")):
                assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "beat wrote no schedule file in 30 s"
                time.sleep(0.2)
        finally:
            beat.send_signal(signal.SIGTERM)
            beat.wait(20)


@pytest.mark.parametrize("key", ["x", "short-but-not-32-characters", f"{PRODUCTION_KEY},tiny"])
def test_a_short_secret_key_stops_production_start(monkeypatch, tmp_path, key):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


def test_a_short_secret_key_is_one_clear_line_from_the_cli(tmp_path):
    env = clean_env(APP_ENV="production", SECRET_KEY="x", INSTANCE_PATH=str(tmp_path))
    result = run_cli("banner", env=env)
    assert result.returncode == 1
    assert "at least 32 characters" in result.stderr and "Traceback" not in result.stderr


def test_the_development_banner_shows_the_demo_and_outbox(sqlite_app):
    result = CliRunner().invoke(banner, obj=_script_info(sqlite_app))
    assert result.exit_code == 0, result.output
    assert "/dev/outbox" in result.output and "/api/v1/" in result.output
    assert "API docs:         http://" in result.output and "/docs" in result.output


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_the_api_index_is_public_and_links_what_exists(sqlite_app):
    client = sqlite_app.test_client()
    response = client.get("/api/v1/")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["openapi"] == "/openapi.json"
    assert client.get(body["openapi"]).status_code == 200
    assert client.get(body["docs"]).status_code == 200
    rules = {rule.rule for rule in sqlite_app.url_map.iter_rules()}
    for link in body["links"].values():
        assert link["href"] in rules, link
    assert "@" not in response.get_data(as_text=True)  # no data about anyone


def test_the_api_index_answers_in_production(tmp_path):
    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEYS": [PRODUCTION_KEY],
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}",
        }
    )
    client = app.test_client()
    assert client.get("/api/v1/").status_code == 200
    assert client.get("/dev/outbox").status_code == 404

"""Every `newsletter` command with the database away: one line saying which database and
why, exit 1, no traceback, never the URL's password.

The database is real PostgreSQL behind a TCP proxy on loopback that the test stops (the shared
server is never touched), and a SQLite file whose folder is gone.
"""

from __future__ import annotations

import pytest

from service.extensions import db
from service.models import Newsletter
from tests.conftest import app_for, migrate, scratch_postgres, stack_env
from tests.functional.test_first_hour import PRODUCTION_KEY, clean_env, run_cli
from tests.support.tcp_proxy import TcpProxy

COMMANDS = [
    ("newsletters", "list"),
    ("sends", "list"),
    ("sends", "show", "1"),
    ("subscribers", "export", "--newsletter", "daily"),
    ("digest", "send", "daily"),
    ("digest", "preview", "daily"),
    ("purge-pending",),
    ("api-keys", "list"),
    ("suppressions", "check", "reader@gmail.com"),
    ("webhooks", "list"),
    ("db", "upgrade"),
]


@pytest.fixture(scope="module")
def proxied_postgres(tmp_path_factory, redis_server):
    """A migrated scratch database with one newsletter, reached through a proxy."""
    with scratch_postgres() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        proxy = TcpProxy(port).start()
        name = url.rsplit("/", 1)[1]
        proxied = f"postgresql://postgres:s3cret-pass@127.0.0.1:{proxy.port}/{name}"
        instance = tmp_path_factory.mktemp("cli-away")
        env = stack_env(proxied, f"{redis_server.url}/3", "", "memory://", instance)
        app = app_for(env, REDIS_URL=None)
        migrate(app)
        with app.app_context():
            db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
            db.session.commit()
            db.engine.dispose()
        try:
            yield proxy, proxied, instance
        finally:
            proxy.close()


def _env(database_url: str, instance) -> dict[str, str]:
    return clean_env(APP_ENV="production", SECRET_KEY=PRODUCTION_KEY,
                     INSTANCE_PATH=str(instance), DATABASE_URL=database_url)  # fmt: skip


def _one_line(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "s3cret-pass" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_proxy_reaches_the_database_when_it_is_up(proxied_postgres):
    proxy, url, instance = proxied_postgres
    proxy.accept()
    result = run_cli("newsletters", "list", env=_env(url, instance))
    assert result.returncode == 0, result.stderr
    assert "daily" in result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_refusing_database_is_one_line_naming_it(proxied_postgres, args):
    proxy, url, instance = proxied_postgres
    proxy.refuse()
    line = _one_line(run_cli(*args, env=_env(url, instance)))
    shown = url.replace("s3cret-pass", "***")
    assert line == (
        f"newsletter: the database at {shown} is not answering (connection refused); "
        "check DATABASE_URL, start it and run the command again"
    )


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'gone' / 'service.db'}"
    line = _one_line(run_cli("newsletters", "list", env=_env(url, tmp_path)))
    assert line.startswith(f"newsletter: the database at {url} is not answering")
    assert "(file cannot be opened)" in line

"""Every command's mistakes get the same help: did-you-mean on every slug, a database that
cannot be used in one line, an unknown APP_ENV named, JSON syntax errors named as such, feed
items counted from 1, and Ctrl-C while watching a send says the send goes on.

The configuration and database messages run as real `.venv/bin/newsletter` subprocesses
(where a traceback would show); the rest through click's runner on a plain SQLite app.
"""

from __future__ import annotations

import select as io
import signal
import subprocess
import time
import uuid

import click
import pytest
from sqlalchemy import select

from service.access.keys import create_api_key
from service.cli import main
from service.extensions import db
from service.models import Newsletter, Send, SendStatus
from tests.conftest import ROOT, unique_email
from tests.functional.test_first_hour import NEWSLETTER, PRODUCTION_KEY, clean_env, run_cli
from tests.functional.test_sending import reader

# Every command that takes a newsletter slug, as typed with the slug `dialy`.
SLUG_COMMANDS = {
    ("newsletters", "update"): ("newsletters", "update", "dialy", "--name", "X"),
    ("newsletters", "delete"): ("newsletters", "delete", "dialy", "--yes"),
    ("subscribers", "import"): ("subscribers", "import", "{csv}", "--newsletter", "dialy",
                                "--pending"),
    ("subscribers", "export"): ("subscribers", "export", "--newsletter", "dialy"),
    ("digest", "preview"): ("digest", "preview", "dialy"),
    ("digest", "test"): ("digest", "test", "dialy", "olena@gmail.com"),
    ("digest", "send"): ("digest", "send", "dialy"),
    ("newsletters", "report"): ("newsletters", "report", "dialy"),
}  # fmt: skip


@pytest.fixture
def daily(sqlite_app):
    item = Newsletter(slug="daily", name="Daily")
    db.session.add(item)
    db.session.commit()
    return item


@pytest.fixture
def cli(sqlite_app):
    runner = sqlite_app.test_cli_runner()

    def invoke(*args: str):
        db.session.remove()
        result = runner.invoke(main, args=list(args))
        db.session.remove()
        return result

    return invoke


def _commands_taking_a_slug(sqlite_app) -> set[tuple[str, str]]:
    found = set()
    for group_name, group in sqlite_app.cli.commands.items():
        if not isinstance(group, click.Group):
            continue
        for name, command in group.commands.items():
            if any(p.name == "slug" for p in command.params):
                found.add((group_name, name))
    return found


def test_every_command_taking_a_slug_is_checked_here(sqlite_app):
    creates = {("newsletters", "create")}  # a new slug: nothing to be close to
    assert _commands_taking_a_slug(sqlite_app) == set(SLUG_COMMANDS) | creates


@pytest.mark.parametrize("command", sorted(SLUG_COMMANDS))
def test_a_mistyped_slug_gets_did_you_mean_everywhere(cli, daily, tmp_path, command):
    path = tmp_path / "a.csv"
    path.write_text("email\n" + unique_email() + "\n")
    result = cli(*(a.format(csv=path) for a in SLUG_COMMANDS[command]))
    assert result.exit_code == 2, result.output
    assert "did you mean daily?" in result.stderr and "newsletters list" in result.stderr


# --- configuration and database, as a subprocess ------------------------------------------------


def test_an_unknown_app_env_is_named_in_one_line(tmp_path):
    result = run_cli(
        "newsletters", "list", env=clean_env(APP_ENV="prod", INSTANCE_PATH=str(tmp_path))
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: APP_ENV is 'prod': use one of development, test, production."
    )


UNREACHABLE = "postgresql://editor:s3cret-pass@127.0.0.1:9/newsletter"


@pytest.mark.parametrize(
    "args",
    [
        ("newsletters", "list"),
        ("sends", "list"),
        ("subscribers", "export", "--newsletter", "daily"),
        ("digest", "send", "daily"),
        ("purge-pending",),
        ("db", "upgrade"),
    ],
)
def test_an_unreachable_database_is_one_line_for_every_command(tmp_path, args):
    env = clean_env(APP_ENV="production", SECRET_KEY=PRODUCTION_KEY, INSTANCE_PATH=str(tmp_path),
                    DATABASE_URL=UNREACHABLE)  # fmt: skip
    result = run_cli(*args, env=env)
    assert result.returncode == 1, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("newsletter: the database at postgresql://editor:***@127.0.0.1:9/")
    assert "is not answering (connection refused)" in line and "check DATABASE_URL" in line
    assert "s3cret-pass" not in result.stderr + result.stdout


def test_a_database_without_tables_says_to_upgrade(tmp_path):
    result = run_cli("newsletters", "list", env=clean_env(INSTANCE_PATH=str(tmp_path)))
    assert result.returncode == 1
    assert "has no tables yet" in result.stderr and "newsletter db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


# --- JSON, feeds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "hint"),
    [
        ("/api/v1/articles", '{"url": "https://news.example.org/a", "title": "T",}', "comma"),
        ("/api/v1/newsletters", "{'slug': 'w'}", "double quotes"),
        ("/api/v1/newsletters/daily/sends", '{"scheduled_at": }', "Expecting value"),
    ],
)
def test_a_json_syntax_error_is_named_as_such(sqlite_app, daily, path, body, hint):
    client = sqlite_app.test_client()
    key = create_api_key(f"t-{uuid.uuid4().hex[:6]}")
    response = client.post(
        path,
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    message = response.json["message"]
    assert message.startswith("The body is not valid JSON: ") and "at line 1, column" in message
    assert hint in message


def test_feed_items_are_counted_from_1(cli, daily, tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><link>https://news.example.org/no-title</link></item>"
        "<item><title>Fine</title><link>https://news.example.org/fine</link></item>"
        "</channel></rss>"
    )
    result = cli("articles", "import-feed", str(feed))
    assert result.exit_code == 0, result.output
    assert "item 1: skipped (title" in result.stderr and "item 0" not in result.stderr


# --- Ctrl-C while watching a send -------------------------------------------------------------


def test_ctrl_c_while_waiting_says_the_send_goes_on(stack, app, newsletter):
    news = newsletter()
    reader(news)
    later = f"{time.gmtime().tm_year + 1}-01-15T07:00+00:00"
    process = subprocess.Popen(
        [str(NEWSLETTER), "digest", "send", news.slug, "--at", later, "--wait"],
        cwd=ROOT, env={**stack.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Pressed once the command says the send is made (it watches from there): a fixed
        # pause could land sooner on a loaded machine.
        ready, _, _ = io.select([process.stdout], [], [], 60)
        assert ready, "digest send said nothing in 60 s"
        made = process.stdout.readline()
        assert made.startswith("send "), (made, process.communicate())
        time.sleep(0.5)  # into the wait loop
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    [send] = _sends(news)
    assert process.returncode == 130, err
    assert f"send {send.id} goes on in the workers" in err
    assert (
        f"newsletter sends pause {send.id}" in err and f"newsletter sends cancel {send.id}" in err
    )
    assert "Traceback" not in err and "Aborted" not in err
    assert send.status == SendStatus.SCHEDULED


def _sends(news: Newsletter) -> list[Send]:
    db.session.commit()
    return db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).all()

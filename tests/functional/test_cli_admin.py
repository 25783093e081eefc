"""Ops CLI: `newsletter newsletters create|list`, `newsletter subscribers import|export`."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.leaving.suppression import suppression_hash
from service.lists.csv_rows import ImportRow
from service.lists.imports import import_subscribers
from service.models import (
    ConsentRecord,
    Newsletter,
    OutboxJob,
    Subscriber,
    Subscription,
    Suppression,
)
from tests.conftest import ROOT, unique_email


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.remove()
        result = runner.invoke(args=list(args))
        db.session.remove()
        return result

    return invoke


def statuses(slug: str) -> dict[str, str]:
    rows = db.session.execute(
        select(Subscriber.email, Subscription.status)
        .join(Subscription)
        .join(Newsletter)
        .where(Newsletter.slug == slug)
    )
    return dict(rows.all())


def test_create_and_list_newsletters(cli):
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    result = cli(
        "newsletters", "create", slug, "--name", "CLI Weekly", "--schedule", "0 8 * * 1",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    stored = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    assert (stored.name, stored.schedule_cron, stored.timezone) == (
        "CLI Weekly",
        "0 8 * * 1",
        "Europe/Berlin",
    )
    listed = cli("newsletters", "list")
    assert listed.exit_code == 0
    [line] = [x for x in listed.output.splitlines() if x.startswith(slug + " ")]
    assert "0 8 * * 1" in line and "Europe/Berlin" in line and "CLI Weekly" in line

    again = cli("newsletters", "create", slug, "--name", "Again")
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.parametrize(
    ("option", "value"), [("--schedule", "every day"), ("--timezone", "Moon/Base")]
)
def test_create_rejects_bad_schedule_or_zone(cli, option, value):
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    result = cli("newsletters", "create", slug, "--name", "X", option, value)
    assert result.exit_code == 2
    assert option in result.stderr
    assert db.session.scalar(select(Newsletter).where(Newsletter.slug == slug)) is None


def write_csv(path, rows: list[str]) -> str:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_import_reports_bad_rows_and_sends_nothing(cli, newsletter, tmp_path):
    slug = newsletter().slug
    good, named, upper = unique_email(), unique_email(), unique_email()
    left = unique_email()
    suppressed = unique_email()
    cli_left = cli("subscribers", "import", write_csv(tmp_path / "a.csv", ["email", left]),
                   "--newsletter", slug, "--confirmed")  # fmt: skip
    assert cli_left.exit_code == 0
    db.session.execute(
        Subscription.__table__.update()
        .where(
            Subscription.subscriber_id
            == select(Subscriber.id).where(Subscriber.email == left).scalar_subquery()
        )
        .values(status="unsubscribed")
    )
    db.session.add(Suppression(email_hash=suppression_hash(suppressed.lower()), reason="bounced"))
    db.session.commit()
    jobs_before = db.session.scalar(select(func.count()).select_from(OutboxJob))

    path = write_csv(
        tmp_path / "b.csv",
        [
            "Email,Name",  # line 1: header (case-insensitive)
            good,  # line 2: no name column value
            f"{named},Olena Petrenko",  # line 3
            "not-an-address,Bad",  # line 4
            f"ivan.{uuid.uuid4().hex[:6]}@gmial.con,Typo",  # line 5
            f"{upper.upper()},Duplicate",  # line 6 (valid)
            f"{upper},Dup",  # line 7: duplicate of line 6
            f"{left},Came Back",  # line 8: unsubscribed stays unsubscribed
            f"{suppressed},",  # line 9: suppressed
        ],
    )
    result = cli("subscribers", "import", path, "--newsletter", slug, "--pending")
    assert result.exit_code == 0, result.output + result.stderr
    assert (
        "3 subscribed (pending), 1 already on the list (1 unsubscribed or bounced, left so), "
        "4 rejected"
    ) in result.output
    for line in ("line 4:", "line 5:", "line 7:", "line 9:"):
        assert line in result.stderr
    assert "duplicate of line 6" in result.stderr
    assert "suppression" in result.stderr

    got = statuses(slug)
    assert got == {
        good: "pending",
        named: "pending",
        upper.upper(): "pending",
        left: "unsubscribed",
    }
    assert db.session.scalar(select(Subscriber.name).where(Subscriber.email == named)) == (
        "Olena Petrenko"
    )
    consent = db.session.scalar(
        select(ConsentRecord)
        .join(Subscriber)
        .where(Subscriber.email == good, ConsentRecord.action == "import")
    )
    assert consent.newsletters == slug and consent.form == "csv-import"
    assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == jobs_before


def test_import_confirmed_and_export(cli, newsletter, tmp_path):
    slug = newsletter().slug
    emails = [unique_email() for _ in range(3)]
    path = write_csv(
        tmp_path / "c.csv", ["email,name", *(f"{e},Reader {i}" for i, e in enumerate(emails))]
    )
    result = cli("subscribers", "import", path, "--newsletter", slug, "--confirmed")
    assert result.exit_code == 0, result.stderr
    assert statuses(slug) == dict.fromkeys(emails, "confirmed")

    exported = cli("subscribers", "export", "--newsletter", slug)
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [(r["email"], r["name"], r["status"]) for r in rows] == [
        (e, f"Reader {i}", "confirmed") for i, e in enumerate(emails)
    ]
    assert all(r["confirmed_at"] for r in rows)

    pending_only = cli("subscribers", "export", "--newsletter", slug, "--status", "pending")
    assert pending_only.output.splitlines()[1:] == []


def test_import_without_email_column_fails(cli, newsletter, tmp_path):
    slug = newsletter().slug
    result = cli("subscribers", "import", write_csv(tmp_path / "d.csv", ["name", "x"]),
                 "--newsletter", slug, "--pending")  # fmt: skip
    assert result.exit_code == 1
    assert "no column of addresses in the first line: it has 'name'" in result.stderr


def test_import_unknown_newsletter(cli, tmp_path):
    path = write_csv(tmp_path / "e.csv", ["email", unique_email()])
    result = cli("subscribers", "import", path, "--newsletter", "no-such-list", "--pending")
    assert result.exit_code == 2 and "no-such-list" in result.stderr


def test_import_commits_batch_by_batch(app, newsletter):
    """Streaming: each batch is stored before the next rows are even read."""
    item = newsletter()
    batch, total = 50, 260
    seen_in_db: list[int] = []

    def rows():
        for i in range(total):
            if i % batch == 0:
                seen_in_db.append(
                    db.session.scalar(
                        select(func.count())
                        .select_from(Subscription)
                        .where(Subscription.newsletter_id == item.id)
                    )
                )
            yield ImportRow(i + 2, unique_email())

    report = import_subscribers(rows(), item, batch_size=batch)
    assert report.subscribed == total and report.rejected == 0
    assert seen_in_db == [0, 50, 100, 150, 200, 250]


def test_installed_command_reads_the_same_environment(stack, newsletter, tmp_path):
    """`newsletter` as ops run it: a subprocess configured only by the environment."""
    slug = newsletter().slug
    email = unique_email()
    path = write_csv(tmp_path / "f.csv", ["email", email])
    command = str(ROOT / ".venv" / "bin" / "newsletter")
    imported = subprocess.run(
        [command, "subscribers", "import", path, "--newsletter", slug, "--confirmed"],
        env=stack.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "1 subscribed (confirmed)" in imported.stdout
    exported = subprocess.run(
        [command, "subscribers", "export", "--newsletter", slug],
        env=stack.env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert exported.stdout.splitlines()[1].startswith(f"{email},,confirmed,")

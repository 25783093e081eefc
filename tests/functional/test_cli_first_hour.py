"""The first hour at the CLI and the admin API: errors that say what to do, settings that stick.

Commands run through click's runner on a plain SQLite app; the import also runs as a real
`.venv/bin/newsletter` subprocess in a pseudo-terminal, where the progress bar is drawn.
"""

from __future__ import annotations

import codecs
import os
import time
import uuid

import pytest
from sqlalchemy import inspect as sql_inspect
from sqlalchemy import select

from service.access.keys import create_api_key
from service.cli import main
from service.extensions import db
from service.models import Article, Newsletter, Subscriber
from tests.conftest import unique_email
from tests.functional.test_first_hour import NEWSLETTER, clean_env
from tests.functional.test_make_run import Terminal


@pytest.fixture
def daily(sqlite_app):
    item = Newsletter(slug="daily", name="Daily")
    db.session.add(item)
    db.session.commit()
    return item


@pytest.fixture
def cli(sqlite_app):
    runner = sqlite_app.test_cli_runner()

    def invoke(*args: str, **kwargs):
        db.session.remove()
        result = runner.invoke(main, args=list(args), **kwargs)  # `newsletter`, as installed
        db.session.remove()
        return result

    return invoke


@pytest.fixture
def admin(sqlite_app):
    key = create_api_key(f"t-{uuid.uuid4().hex[:6]}")
    client = sqlite_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


# --- slugs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("subscribers", "import", "{csv}", "--newsletter", "dialy", "--pending"),
        ("subscribers", "export", "--newsletter", "dialy"),
        ("digest", "preview", "dialy"),
        ("newsletters", "update", "dialy", "--name", "X"),
    ],
)
def test_a_mistyped_slug_gets_did_you_mean(cli, daily, tmp_path, args):
    path = tmp_path / "a.csv"
    path.write_text("email\n" + unique_email() + "\n")
    result = cli(*(a.format(csv=path) for a in args))
    assert result.exit_code == 2
    assert "did you mean daily?" in result.stderr and "newsletters list" in result.stderr


def test_a_name_given_as_slug_is_pointed_at_the_argument_with_a_suggestion(cli):
    result = cli("newsletters", "create", "Weekly News!", "--name", "Weekly News")
    assert result.exit_code == 2
    assert "'SLUG'" in result.stderr and "--slug" not in result.stderr
    assert "try 'weekly-news'" in result.stderr


# --- rate limit per newsletter ----------------------------------------------------------------


def test_rate_limit_from_the_cli(cli):
    created = cli("newsletters", "create", "fast", "--name", "Fast", "--rate-limit", "12.5")
    assert created.exit_code == 0, created.stderr
    assert db.session.scalar(select(Newsletter.rate_limit_per_second)) == 12.5
    updated = cli("newsletters", "update", "fast", "--rate-limit", "3")
    assert updated.exit_code == 0 and "rate_limit_per_second" in updated.output
    assert db.session.scalar(select(Newsletter.rate_limit_per_second)) == 3.0
    assert cli("newsletters", "update", "fast", "--no-rate-limit").exit_code == 0
    assert db.session.scalar(select(Newsletter.rate_limit_per_second)) is None
    bad = cli("newsletters", "update", "fast", "--rate-limit", "-1")
    assert bad.exit_code == 2 and "--rate-limit" in bad.stderr
    nothing = cli("newsletters", "update", "fast")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


def test_rate_limit_through_the_api(admin, daily):
    response = admin.patch("/api/v1/newsletters/daily", json={"rate_limit_per_second": 25})
    assert response.status_code == 200, response.json
    assert response.json["rate_limit_per_second"] == 25.0
    assert admin.get("/api/v1/newsletters").json["newsletters"][0]["rate_limit_per_second"] == 25
    for bad in ("fast", 0, -3, True, 10**9):
        refused = admin.patch("/api/v1/newsletters/daily", json={"rate_limit_per_second": bad})
        assert refused.status_code == 422 and refused.json["field"] == "rate_limit_per_second"
    created = admin.post(
        "/api/v1/newsletters", json={"slug": "w", "name": "W", "rate_limit_per_second": 2.5}
    )
    assert created.status_code == 201 and created.json["rate_limit_per_second"] == 2.5


# --- admin API --------------------------------------------------------------------------------


def test_subscribers_without_a_filter_are_the_whole_list_paged(admin):
    response = admin.get("/api/v1/subscribers?limit=1")
    assert response.status_code == 200
    assert set(response.json) == {"subscribers", "next"}
    assert len(response.json["subscribers"]) <= 1
    refused = admin.get("/api/v1/subscribers?status=happy")
    assert refused.status_code == 422 and refused.json["field"] == "status"


def test_updating_an_article_by_url_keeps_what_it_does_not_name(admin):
    url = f"https://news.example.org/story-{uuid.uuid4().hex[:6]}"
    first = admin.post(
        "/api/v1/articles",
        json={
            "url": url,
            "title": "First title",
            "authors": ["Olena"],
            "section": "War",
            "summary": "<p>Sum</p>",
            "published_at": "2025-01-02T03:04:05Z",
        },
    )
    assert first.status_code == 201
    again = admin.post("/api/v1/articles", json={"url": url, "title": "New title"})
    assert again.status_code == 200 and again.json["status"] == "updated"
    batch = admin.post("/api/v1/articles", json=[{"url": url, "title": "Batch title"}])
    assert batch.status_code == 200
    db.session.expire_all()
    article = db.session.scalar(select(Article).where(Article.url == url))
    assert article.title == "Batch title"
    assert (article.authors, article.section, article.summary_text) == (["Olena"], "War", "Sum")
    assert article.published_at.year == 2025
    cleared = admin.post("/api/v1/articles", json={"url": url, "title": "T", "authors": []})
    assert cleared.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Article.authors).where(Article.url == url)) == []


# --- import -----------------------------------------------------------------------------------


def _names() -> dict[str, str | None]:
    db.session.expire_all()
    return dict(db.session.execute(select(Subscriber.email, Subscriber.name)).all())


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("cp1251", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
     ("utf-16-le", b""), ("utf-8", b"")],
)  # fmt: skip
def test_import_reads_the_encodings_spreadsheets_write(cli, daily, tmp_path, encoding, bom):
    people = {unique_email(): "Олена Коваленко", unique_email(): "Тарас Шевченко"}
    text = "email,name\r\n" + "".join(f"{e},{n}\r\n" for e, n in people.items())
    path = tmp_path / "list.csv"
    path.write_bytes(bom + text.encode(encoding))
    result = cli("subscribers", "import", str(path), "--newsletter", "daily", "--pending")
    assert result.exit_code == 0, result.stderr
    assert "2 subscribed" in result.output
    assert _names() == people
    if encoding == "cp1251":
        assert "reading it as cp1251" in result.stderr


@pytest.mark.parametrize(
    ("encoding", "bom", "separator"),
    [("cp1251", b"", ";"), ("utf-8", codecs.BOM_UTF8, ";"), ("utf-16-le", codecs.BOM_UTF16_LE, "\t")],
)  # fmt: skip
def test_import_reads_excel_on_a_ukrainian_windows(cli, daily, tmp_path, encoding, bom, separator):
    """Excel where the decimal mark is a comma writes `;` (cp1251, or UTF-8 with a BOM)."""
    people = {unique_email(): "Коваленко, Олена", unique_email(): "Тарас"}
    header = separator.join(["Email Address", "Ім'я", "Сума"])
    text = (
        header + "\r\n" + "".join(f"{e}{separator}{n}{separator}1,5\r\n" for e, n in people.items())
    )
    path = tmp_path / "excel.csv"
    path.write_bytes(bom + text.encode(encoding))
    result = cli("subscribers", "import", str(path), "--newsletter", "daily", "--pending")
    assert result.exit_code == 0, result.stderr
    assert "2 subscribed" in result.output
    assert _names() == people


def test_import_without_an_address_column_names_the_columns_it_found(cli, daily, tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("Name;Phone\nOlena;+380441234567\n")
    result = cli("subscribers", "import", str(path), "--newsletter", "daily", "--pending")
    assert result.exit_code == 1
    assert "it has 'Name', 'Phone' (read as semicolon-separated)" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_an_unclosed_quote_is_reported_not_swallowed(cli, daily, tmp_path):
    before, after = unique_email(), unique_email()
    path = tmp_path / "quote.csv"
    path.write_text(
        f'email,name\n{before},Ok\n{unique_email()},"Broken\n{unique_email()},A\n{after},B\n'
    )
    result = cli("subscribers", "import", str(path), "--newsletter", "daily", "--pending")
    assert result.exit_code == 0
    assert "line 3: a quote opened on this line is never closed, so lines 3-5" in result.stderr
    assert "1 subscribed" in result.output and "1 rejected" in result.output
    assert set(_names()) == {before}


def test_likely_typos_are_imported_with_a_warning_and_counted(cli, daily, tmp_path):
    typo = f"ivan.{uuid.uuid4().hex[:6]}@gmial.com"
    path = tmp_path / "typo.csv"
    path.write_text(f"email\n{unique_email()}\n{typo}\n")
    result = cli("subscribers", "import", str(path), "--newsletter", "daily", "--pending")
    assert result.exit_code == 0
    assert f"line 3: '{typo}' looks like a typo of {typo.replace('gmial', 'gmail')}" in (
        result.stderr
    )
    assert "2 subscribed" in result.output and "1 look like typos" in result.output


def test_import_in_a_terminal_prints_bad_rows_after_the_bar(sqlite_app, daily, tmp_path):
    path = tmp_path / "big.csv"
    rows = [unique_email() for _ in range(300)]
    rows[10] = "not-an-address"
    path.write_text("email\n" + "\n".join(rows) + "\n")
    env = clean_env(
        APP_ENV="test",
        INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=sqlite_app.config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY="test-secret-key-not-for-production",
    )
    terminal = Terminal([str(NEWSLETTER), "subscribers", "import", str(path),
                         "--newsletter", "daily", "--pending"], env)  # fmt: skip
    try:
        assert terminal.process.wait(timeout=60) == 0, terminal.text()
        time.sleep(0.2)  # the last bytes through the terminal
    finally:
        terminal.close()
    lines = terminal.text().replace("\r\n", "\n").split("\n")
    [bad] = [line for line in lines if "line 12:" in line]
    assert bad.startswith("rejected line 12: 'not-an-address'"), bad
    assert "Importing into daily" in terminal.text()
    assert lines.index(bad) > max(i for i, line in enumerate(lines) if "Importing into" in line)
    assert any(line.startswith("299 subscribed") for line in lines)


# --- destructive commands ---------------------------------------------------------------------


def test_downgrade_that_drops_data_asks_first(cli, daily):
    refused = cli("db", "downgrade", "base")
    assert refused.exit_code == 1
    assert "table subscribers" in refused.stderr and "table newsletters (1 rows)" in refused.stderr
    assert "--yes" in refused.stderr
    assert db.session.scalar(select(Newsletter.slug)) == "daily"  # nothing changed
    one_step = cli("db", "downgrade", "0003")
    assert one_step.exit_code == 1
    assert "column newsletters.allowed_origins (1 rows)" in one_step.stderr
    assert "table subscribers" not in one_step.stderr
    confirmed = cli("db", "downgrade", "0003", "--yes")
    assert confirmed.exit_code == 0, confirmed.stderr
    columns = {c["name"] for c in sql_inspect(db.engine).get_columns("newsletters")}
    assert "allowed_origins" not in columns
    assert db.session.scalar(select(Newsletter.slug)) == "daily"


def test_downgrade_in_a_terminal_asks_and_no_keeps_everything(sqlite_app, daily, tmp_path):
    env = clean_env(
        APP_ENV="test",
        INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=sqlite_app.config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY="test-secret-key-not-for-production",
    )
    terminal = Terminal([str(NEWSLETTER), "db", "downgrade", "base"], env)
    try:
        terminal.wait_for(r"Drop this data\? \[y/N\]", timeout=30)
        os.write(terminal.master, b"n\n")
        assert terminal.process.wait(timeout=30) == 1
    finally:
        terminal.close()
    assert "table subscribers (0 rows)" in terminal.text() and "Aborted" in terminal.text()
    db.session.remove()
    assert db.session.scalar(select(Newsletter.slug)) == "daily"

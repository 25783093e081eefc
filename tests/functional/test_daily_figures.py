"""A newsletter's daily figures, kept in the transaction of each change: after a mixed run of
signups, confirmations, unsubscribes, a bounce, an import and an erasure they equal a full count
of the readers and their events (SQLite and PostgreSQL), concurrent changes lose no count
(PostgreSQL, threads), a rolled-back change and an export of a reader count nothing, and the
API and the CLI show the series with empty days as zeros."""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service import daily
from service.access.keys import create_api_key
from service.addresses import parse_address
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.leaving import changes, suppression
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, import_subscribers
from service.lists.subscribers import erase_subscriber, export_subscriber
from service.models import (
    Newsletter,
    NewsletterDay,
    Subscriber,
)
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirm, confirmation_token
from tests.conftest import apply_signups_here, plain_app, scratch_postgres
from tests.support.figures import confirmed_readers, recounted_days, stored_days


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, tmp_path, redis_server):
    """A plain app (no worker) on each backend."""
    if request.param == "sqlite":
        with plain_app(f"sqlite:///{tmp_path / 'd.db'}", redis_server, tmp_path) as app:
            yield app
    else:
        with scratch_postgres() as url, plain_app(url, redis_server, tmp_path) as app:
            yield app


def _newsletter(slug: str) -> Newsletter:
    newsletter = Newsletter(slug=slug, name=slug.title())
    db.session.add(newsletter)
    db.session.commit()
    return newsletter


def _reader(email: str) -> Subscriber:
    return db.session.scalars(select(Subscriber).where(Subscriber.email_key == email)).one()


def test_the_figures_equal_a_full_count_after_a_mixed_run(any_app):
    news, weekly = _newsletter("news"), _newsletter("weekly")
    emails = [f"reader{n}@gmail.com" for n in range(8)]
    for n, email in enumerate(emails):
        subscribe(SignupRequest(parse_address(email), ("news", "weekly")[: 1 + n % 2]))
    apply_signups_here()
    for email in emails[:5]:
        confirm(confirmation_token(_reader(email)))
    changes.unsubscribe(_reader(emails[0]).id, news.id, "link")  # confirmed, leaves
    changes.unsubscribe(_reader(emails[6]).id, news.id, "link")  # pending, leaves
    changes.unsubscribe_all(_reader(emails[1]).id)  # confirmed on both
    suppression.record_bounce(_reader(emails[2]).id, news.id, emails[2], "550 no such user")
    complaint = FeedbackEvent(source="arf", kind="complaint", provider_event_id="daily-1",
                              recipient=emails[4])  # fmt: skip
    assert record_feedback(complaint).action == "unsubscribed"  # confirmed on news, leaves
    rows = "email\n" + "\n".join(f"imported{n}@gmail.com" for n in range(3)) + "\nnot-an-address\n"
    import_subscribers(read_csv(io.StringIO(rows)), news, mode=ImportMode.CONFIRMED,
                       consent="paper form")  # fmt: skip
    # again: the worker re-applies a signup of a reader who left
    subscribe(SignupRequest(parse_address(emails[0]), ("news",)))
    apply_signups_here()

    for newsletter in (news, weekly):
        assert stored_days(newsletter.id) == recounted_days(newsletter.id)
        assert stored_days(newsletter.id)["net"] == confirmed_readers(newsletter.id)
    figures = stored_days(news.id)
    assert figures == Counter(
        signups=12, confirmations=8, unsubscribes=3, bounces=1, complaints=1, net=4
    )

    erase_subscriber(_reader(emails[3]))  # confirmed on news and weekly
    after = stored_days(news.id)
    assert after["erasures"] == 1 and after["net"] == 3 == confirmed_readers(news.id)
    assert stored_days(weekly.id)["net"] == confirmed_readers(weekly.id)
    today = datetime.now(UTC).date()
    assert db.session.scalar(select(func.count()).select_from(NewsletterDay)) == 2
    assert {row.day for row in db.session.scalars(select(NewsletterDay))} == {today}


def test_a_rolled_back_change_counts_nothing(any_app):
    news = _newsletter("news")
    subscribe(SignupRequest(parse_address("olena@gmail.com"), ("news",)))
    apply_signups_here()
    reader = _reader("olena@gmail.com")
    reader.subscriptions[0].move_to("confirmed", "confirm")
    daily.record(news.id, bounces=5)
    db.session.flush()
    db.session.rollback()
    daily.record(news.id, complaints=1)
    db.session.commit()
    assert stored_days(news.id) == Counter(signups=1, complaints=1)


def test_record_is_the_hook_for_figures_that_are_no_status_change(any_app):
    news = _newsletter("news")
    daily.record(news.id, date(2026, 3, 1), bounces=1)
    daily.record(news.id, date(2026, 3, 1), bounces=2, complaints=1)
    db.session.commit()
    row = db.session.get(NewsletterDay, (news.id, date(2026, 3, 1)))
    assert (row.bounces, row.complaints, row.net) == (3, 1, 0)
    with pytest.raises(ValueError, match="not a daily count: readers"):
        daily.record(news.id, readers=1)


def test_concurrent_changes_lose_no_count(tmp_path, redis_server):
    """Eight threads, each its own session and transactions, add to the same two rows at once
    (PostgreSQL row locks; the upsert adds instead of overwriting)."""
    with scratch_postgres() as url, plain_app(url, redis_server, tmp_path) as app:
        first, second = _newsletter("first").id, _newsletter("second").id
        threads, rounds, errors = 8, 25, []
        start = threading.Barrier(threads)

        def work(n: int) -> None:
            try:
                with app.app_context():
                    start.wait()
                    for round_ in range(rounds):
                        # the two rows in either order: the writes lock them in one order
                        pair = (first, second) if (n + round_) % 2 else (second, first)
                        for newsletter_id in pair:
                            daily.record(newsletter_id, signups=1, net=1)
                        db.session.commit()
                    db.session.remove()
            except Exception as exc:
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert errors == []
        for newsletter_id in (first, second):
            assert stored_days(newsletter_id) == Counter(signups=200, net=200)


def test_the_api_and_the_cli_show_the_series(any_app):
    news = _newsletter("news")
    today = datetime.now(UTC).date()
    daily.record(news.id, today - timedelta(days=2), signups=3, confirmations=2, net=2)
    daily.record(news.id, today, unsubscribes=1, net=-1)
    db.session.commit()
    client = any_app.test_client()
    headers = {"Authorization": f"Bearer {create_api_key('reader', ['read'])}"}
    first = (today - timedelta(days=3)).isoformat()
    answer = client.get(f"/api/v1/newsletters/news/stats?from={first}", headers=headers)
    assert answer.status_code == 200, answer.json
    days = answer.json["days"]
    assert [d["date"] for d in days] == [
        (today - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)
    ]
    assert [(d["signups"], d["confirmations"], d["unsubscribes"], d["net"]) for d in days] == [
        (0, 0, 0, 0), (3, 2, 0, 2), (0, 0, 0, 0), (0, 0, 1, -1)
    ]  # fmt: skip
    assert answer.json["totals"]["net"] == 1
    default = client.get("/api/v1/newsletters/news/stats", headers=headers).json["days"]
    assert len(default) == daily.DEFAULT_DAYS and default[-1]["date"] == today.isoformat()
    for query, field in [
        ("from=2026-01-01&to=2027-06-01", "from"),  # over 366 days
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-02-30", "from"),
    ]:
        bad = client.get(f"/api/v1/newsletters/news/stats?{query}", headers=headers)
        assert (bad.status_code, bad.json["field"]) == (422, field), query
    assert client.get("/api/v1/newsletters/nope/stats", headers=headers).status_code == 404
    assert client.get("/api/v1/newsletters/news/stats").status_code == 401

    result = any_app.test_cli_runner().invoke(args=["stats", "news", "--from", first])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["date", "signups", "confirmations", "unsubscribes", "bounces",
                                "complaints", "erasures", "net"]  # fmt: skip
    assert lines[2].split() == [
        (today - timedelta(days=2)).isoformat(),
        "3",
        "2",
        "0",
        "0",
        "0",
        "0",
        "2",
    ]
    assert lines[-1].split()[0] == "total" and lines[-1].split()[-1] == "1"
    wrong = any_app.test_cli_runner().invoke(args=["stats", "nope"])
    assert wrong.exit_code != 0


def test_an_export_of_a_reader_counts_no_erasure(any_app):
    news = _newsletter("news")
    subscribe(SignupRequest(parse_address("olena@gmail.com"), ("news",)))
    apply_signups_here()
    export_subscriber(_reader("olena@gmail.com"))
    db.session.commit()
    assert stored_days(news.id) == Counter(signups=1)

"""Two writers of the same readers at the same moment count them once (PostgreSQL, two threads,
each with its own app context and session): two imports of one CSV into one newsletter in each
mode, two confirmed re-imports of readers an import left pending, and two signups of readers
who had left, applied by two workers. The daily figures and the readers by status then equal a
full count.

A barrier holds each thread before its first write to the subscriptions, so both have read
the list as it was before either writes: the second writer's insert or update then waits for
the first one's transaction and finds its rows written (the readers are known already, from
another newsletter, so that inserting them does not put the two imports one after the other).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes
from service.lists.csv_rows import read_csv
from service.lists.imports import ImportMode, import_subscribers
from service.models import Newsletter, Subscriber
from service.signup.accept import SignupRequest, subscribe
from service.signup.apply import apply_signups
from tests.conftest import _pending_signups
from tests.support.figures import (
    confirmed_readers,
    counted_readers,
    kept_readers,
    recounted_days,
    stored_days,
)

READERS = 300
CONSENT = "paper forms at the book fair"


def _newsletter(slug: str) -> int:
    newsletter = Newsletter(slug=slug, name=slug.title())
    db.session.add(newsletter)
    db.session.commit()
    return newsletter.id


def _csv(tmp_path: Path, n: int = READERS) -> Path:
    path = tmp_path / "readers.csv"
    path.write_text("email\n" + "".join(f"reader{i}@gmail.com\n" for i in range(n)))
    return path


def _import(csv: Path, newsletter_id: int, mode: ImportMode) -> None:
    consent = CONSENT if mode == ImportMode.CONFIRMED else None
    with csv.open() as lines:
        report = import_subscribers(
            read_csv(lines), db.session.get(Newsletter, newsletter_id), mode=mode, consent=consent
        )
    assert report.rejected == 0


@contextmanager
def meeting_before(statement: str, parties: int = 2) -> Iterator[None]:
    """Hold each thread before its first SQL statement starting with `statement` until all
    `parties` are there (a listener on the engine: the code under test runs as it is)."""
    barrier = threading.Barrier(parties, timeout=30)
    seen = threading.local()

    def wait(_conn, _cursor, sql: str, *_args) -> None:
        if sql.startswith(statement) and not getattr(seen, "met", False):
            seen.met = True
            barrier.wait()

    event.listen(db.engine, "before_cursor_execute", wait)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", wait)


def _at_once(app, *work: Callable[[], object]) -> None:
    """Run each of `work` in a thread of its own, in an app context (a session) of its own."""
    db.session.remove()
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            with app.app_context():
                job()
                db.session.remove()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []


def _figures(newsletter_id: int) -> tuple[Counter[str], Counter[tuple[int, str]]]:
    """The newsletter's daily figures and every reader count, checked against a full count."""
    db.session.commit()
    readers = kept_readers()
    assert readers == counted_readers()
    figures = stored_days(newsletter_id)
    assert figures == recounted_days(newsletter_id)
    assert figures["net"] == confirmed_readers(newsletter_id)
    return figures, readers


@pytest.mark.parametrize(
    "mode", [ImportMode.PENDING, ImportMode.CONFIRMED, ImportMode.SEND_CONFIRMATION]
)
def test_two_imports_of_the_same_readers_at_once_count_them_once(postgres_app, tmp_path, mode):
    known, news = _newsletter("known"), _newsletter("news")
    csv = _csv(tmp_path)
    _import(csv, known, ImportMode.PENDING)
    with meeting_before("INSERT INTO subscriptions "):
        _at_once(postgres_app, *[lambda: _import(csv, news, mode)] * 2)
    figures, readers = _figures(news)
    if mode == ImportMode.CONFIRMED:
        assert figures == Counter(signups=READERS, confirmations=READERS, net=READERS)
        assert readers[(news, "confirmed")] == READERS
    else:
        assert figures == Counter(signups=READERS)
        assert readers[(news, "pending")] == READERS


def test_two_confirmed_reimports_of_pending_readers_at_once_count_them_once(postgres_app, tmp_path):
    news = _newsletter("news")
    csv = _csv(tmp_path)
    _import(csv, news, ImportMode.PENDING)
    with meeting_before("UPDATE subscriptions "):
        _at_once(postgres_app, *[lambda: _import(csv, news, ImportMode.CONFIRMED)] * 2)
    figures, readers = _figures(news)
    assert figures == Counter(signups=READERS, confirmations=READERS, net=READERS)
    assert readers == Counter({(news, "confirmed"): READERS})


def test_two_signups_of_a_reader_who_left_applied_at_once_count_once(postgres_app, tmp_path):
    """Each reader who left signs up twice; two workers apply one signup each at once."""
    news, left = _newsletter("news"), 3
    _import(_csv(tmp_path, left), news, ImportMode.CONFIRMED)
    readers = db.session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
    for reader in readers:
        changes.unsubscribe(reader.id, news, "link")
    emails = [reader.email for reader in readers]
    rounds = []
    for _ in range(2):
        before = set(_pending_signups())
        for email in emails:
            subscribe(SignupRequest(parse_address(email), ("news",)))
        rounds.append(sorted(set(_pending_signups()) - before))
    assert all(len(jobs) == left for jobs in rounds)
    applied: list[int] = []
    with meeting_before("UPDATE subscriptions "):
        _at_once(
            postgres_app, *[lambda j=jobs: applied.append(apply_signups(j)) for jobs in rounds]
        )
    assert applied == [left, left]  # every signup applied, none failed
    figures, counts = _figures(news)
    assert figures == Counter(signups=2 * left, confirmations=left, unsubscribes=left)
    assert counts == Counter({(news, "pending"): left})

"""The database away in the embedded layout (SQLite, no Redis): signups are answered 202 as
always and applied once, in order, when it is back (the journal under INSTANCE_PATH); with the
journal unusable too they get 503 and Retry-After; the admin API and the hosted pages answer
503 with Retry-After, never a 500."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from service.access.keys import create_api_key
from service.extensions import db
from service.models import ConsentRecord, Newsletter, Subscriber
from service.signup import replay
from service.signup.journal import JOURNAL, JournalSpool
from service.signup.spool import decode
from tests.conftest import app_for, apply_signups_here, migrate, stack_env, unique_email

REPLAY_BOUND = 10.0  # seconds from the database's return to an empty journal (measured < 1)


class Embedded:
    """An app on SQLite in a folder of its own, which the test can take away and bring back."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.folder = tmp_path / "data"
        self.folder.mkdir()
        self.instance = tmp_path / "instance"
        env = stack_env(
            f"sqlite:///{self.folder / 'service.db'}",
            f"{redis_url}/3",
            "",
            "memory://",
            self.instance,
        )
        self.app = app_for(env, REDIS_URL=None)  # the embedded layout: the spool is the journal
        migrate(self.app)

    def away(self) -> None:
        self.folder.rename(self.folder.with_name("data-away"))
        db.engine.dispose()  # pooled connections hold the old file open

    def back(self) -> None:
        self.folder.with_name("data-away").rename(self.folder)


@pytest.fixture
def embedded(tmp_path, redis_server):
    site = Embedded(tmp_path, redis_server.url)
    with site.app.app_context():
        db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
        db.session.commit()
        yield site
        db.session.remove()
        db.engine.dispose()


def _sign_up(client, email: str, **extra):
    return client.post(
        "/api/v1/subscriptions", json={"email": email, "newsletters": "daily", **extra}
    )


def _wait_for_replay(journal: JournalSpool, timeout: float = REPLAY_BOUND) -> float:
    started = time.monotonic()
    while journal.oldest(1):
        assert time.monotonic() - started < timeout, "the journal was not replayed"
        time.sleep(0.05)
    return time.monotonic() - started


def test_signups_while_the_database_is_away_are_answered_as_always_and_applied_once_in_order(
    embedded,
):
    client = embedded.app.test_client()
    normal = _sign_up(client, unique_email())
    assert normal.status_code == 202
    embedded.away()
    emails = [unique_email() for _ in range(12)]
    for email in emails:
        answer = _sign_up(client, email, name="Олена")
        assert answer.status_code == 202, answer.data
        assert answer.data == normal.data  # the same body: nothing tells the reader
    refused = _sign_up(client, "not-an-address")  # validation needs no database
    assert refused.status_code == 422 and refused.json["code"] == "invalid_email"
    journal = JournalSpool(embedded.instance)
    lines = journal.oldest(100)
    assert [decode(line)["signup"]["email"] for line in lines] == emails
    embedded.back()
    replayed_in = _wait_for_replay(journal)
    assert replayed_in < REPLAY_BOUND
    apply_signups_here()
    readers = db.session.scalars(select(Subscriber).order_by(Subscriber.id)).all()
    assert [r.email for r in readers][1:] == emails  # applied in the order they came
    assert {r.name for r in readers[1:]} == {"Олена"}
    consents = db.session.scalars(select(ConsentRecord.subscriber_id)).all()
    assert sorted(consents) == [r.id for r in readers]  # once each
    # The same entries again (a crash before the journal noted them replayed) add nothing.
    assert replay.replay([decode(line) for line in lines]) == 0


def test_a_new_signup_waits_behind_the_spooled_ones(embedded):
    client = embedded.app.test_client()
    embedded.away()
    first = unique_email()
    assert _sign_up(client, first).status_code == 202
    embedded.back()
    second = unique_email()
    assert _sign_up(client, second).status_code == 202  # the database answers; still queued
    _wait_for_replay(JournalSpool(embedded.instance))
    apply_signups_here()
    order = db.session.scalars(select(Subscriber.email).order_by(Subscriber.id)).all()
    assert order == [first, second]


def test_with_the_journal_unusable_too_the_reader_is_asked_to_try_again(embedded):
    client = embedded.app.test_client()
    embedded.away()
    os.makedirs(embedded.instance / JOURNAL)  # a folder where the file should be: no append
    answer = _sign_up(client, unique_email())
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json["status"] == "error" and answer.json["code"] == "signup_unavailable"
    assert "try again in a minute" in answer.json["message"]
    for locale, words in (("en", "try again in a minute"), ("uk", "хвилину")):
        page = client.post(
            "/api/v1/subscriptions",
            data={"email": unique_email(), "newsletters": "daily", "locale": locale},
            headers={"Accept": "text/html"},
        )
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert words in page.get_data(as_text=True)
        assert "Traceback" not in page.get_data(as_text=True)


def test_the_admin_api_and_hosted_pages_answer_503_with_retry_after(embedded):
    key = create_api_key("ops")
    client = embedded.app.test_client()
    embedded.away()
    for path in ("/api/v1/subscribers", "/api/v1/sends", "/api/v1/newsletters"):
        answer = client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 503, (path, answer.data)
        assert int(answer.headers["Retry-After"]) > 0
        assert answer.json["status"] == "error"
        assert answer.json["code"] == "database_unavailable"
    page = client.get("/archive/daily", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.headers["Retry-After"]
    text = page.get_data(as_text=True)
    assert "try again in a minute" in text and "Traceback" not in text
    embedded.back()
    back = client.get("/api/v1/subscribers", headers={"Authorization": f"Bearer {key}"})
    assert back.status_code == 200

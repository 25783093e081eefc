"""`GET /metrics` in one process: the token, what each place of work counts, the gauges read
from the database, and labels that nobody can make up.

In the test process prometheus-client runs without its multiprocess directory, so the
counters read here are this process's (the stack test, `test_metrics_stack.py`, adds them up
across processes). Counters only rise across tests, so each test reads differences.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client import multiprocess as library_multiprocess
from prometheus_client.parser import text_string_to_metric_families

from service.config import ConfigError, load_settings
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.leaving.changes import save_preferences, unsubscribe, unsubscribe_all
from service.mail.errors import PermanentMailError, TransientMailError
from service.mail.transports import transport_from_url
from service.metrics import processes
from service.models import (
    BatchStatus,
    Heartbeat,
    JobStatus,
    Newsletter,
    OutboxJob,
    Send,
    SendBatch,
    SubscriptionStatus,
    utcnow,
)
from service.signup.confirm import confirm, confirmation_token
from tests.conftest import unique_email
from tests.support.readers import add_reader

TOKEN = "a-metrics-token-of-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


@pytest.fixture
def metrics_app(sqlite_app):
    sqlite_app.config["METRICS_TOKEN"] = TOKEN
    return sqlite_app


def newsletter(slug: str | None = None) -> Newsletter:
    news = Newsletter(slug=slug or f"nl-{uuid.uuid4().hex[:8]}", name="Metrics")
    db.session.add(news)
    db.session.commit()
    return news


def test_metrics_are_off_without_a_token(sqlite_app):
    response = sqlite_app.test_client().get("/metrics", headers=AUTH)
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_the_token_is_required(metrics_app):
    client = metrics_app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert response.get_json()["code"] == "unauthorized"
        assert TOKEN not in response.get_data(as_text=True)
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "newsletter_signups_total" in response.get_data(as_text=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
    | st.sampled_from([f"Bearer {TOKEN}", f"bearer  {TOKEN} ", f"BEARER {TOKEN[:-1]}", TOKEN])
)
def test_no_other_authorization_gets_in(metrics_app, header):
    response = metrics_app.test_client().get("/metrics", headers={"Authorization": header})
    scheme, _, token = header.strip().partition(" ")  # RFC 6750: the scheme in any case
    expected = 200 if scheme.lower() == "bearer" and token.strip() == TOKEN else 401
    assert response.status_code == expected, header


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slugs=st.lists(st.text(min_size=1, max_size=40), max_size=4))
def test_signup_labels_are_only_newsletters_that_exist(metrics_app, slugs):
    """Whatever a request names, the newsletter label is a slug from the database or `none`
    (the process's counters also hold earlier tests' newsletters: only what this one named
    and does not exist must never be a label)."""
    known = {n.slug for n in db.session.scalars(db.select(Newsletter))} | {"none"}
    client = metrics_app.test_client()
    client.post("/api/v1/subscriptions", json={"email": "not an address", "newsletters": slugs})
    client.post("/api/v1/subscriptions", json={"email": unique_email(), "newsletters": slugs})
    labels = {
        dict(labels)["newsletter"]
        for (name, labels) in scraped(client)
        if name.startswith("newsletter_signups")
    }
    named = {part.strip() for slug in slugs for part in slug.split(",")} | set(slugs)
    assert not labels & (named - known)


def test_each_signup_outcome_is_counted(metrics_app, sqlite_app_with):
    news = newsletter()
    client = metrics_app.test_client()
    before = {
        o: value("newsletter_signups_total", outcome=o, newsletter=news.slug)
        for o in ("accepted", "invalid", "bot")
    }
    body = {"email": unique_email(), "newsletters": news.slug}
    assert client.post("/api/v1/subscriptions", json=body).status_code == 202
    assert client.post("/api/v1/subscriptions", json={**body, "email": "x@"}).status_code == 422
    bot = {**body, "website": "https://spam.example"}
    assert client.post("/api/v1/subscriptions", json=bot).status_code == 202
    for outcome in ("accepted", "invalid", "bot"):
        after = value("newsletter_signups_total", outcome=outcome, newsletter=news.slug)
        assert after == before[outcome] + 1, outcome

    limited = sqlite_app_with(RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT_IP="2/minute")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    before = value("newsletter_signups_total", outcome="rate_limited", newsletter=news.slug)
    with limited.app_context():
        statuses = [
            limited.test_client()
            .post(
                "/api/v1/subscriptions",
                json={"email": unique_email(), "newsletters": news.slug},
                environ_base={"REMOTE_ADDR": address},
            )
            .status_code
            for _ in range(4)
        ]
        db.session.remove()
    assert statuses == [202, 202, 429, 429]
    after = value("newsletter_signups_total", outcome="rate_limited", newsletter=news.slug)
    assert after == before + 2


def test_unsubscribes_by_channel_and_confirmations(metrics_app):
    news, other = newsletter(), newsletter()

    def channel(name: str, slug: str) -> float:
        return value("newsletter_unsubscribes_total", channel=name, newsletter=slug)

    start = {c: channel(c, news.slug) for c in ("one_click", "footer_link", "preferences")}
    one = add_reader(news)
    assert unsubscribe(one.id, news.id, "one_click")
    assert not unsubscribe(one.id, news.id, "one_click")  # nothing changed: nothing counted
    two = add_reader(news)
    assert unsubscribe(two.id, news.id, "unsubscribe_page")
    three = add_reader(news, other)
    assert unsubscribe_all(three.id) == 2
    four = add_reader(news)
    assert save_preferences(four.id, []) == 1
    assert channel("one_click", news.slug) == start["one_click"] + 1
    assert channel("footer_link", news.slug) == start["footer_link"] + 2
    assert channel("footer_link", other.slug) >= 1
    assert channel("preferences", news.slug) == start["preferences"] + 1

    before = value("newsletter_confirmations_total", newsletter=news.slug)
    pending = add_reader(news, other, status=SubscriptionStatus.PENDING)
    confirm(confirmation_token(pending))
    assert value("newsletter_confirmations_total", newsletter=news.slug) == before + 1
    assert value("newsletter_confirmations_total", newsletter=other.slug) >= 1


def test_gauges_read_from_the_database(metrics_app):
    """Active sends only, the oldest pending job and batch lease, heartbeats."""
    now = utcnow()
    news = newsletter()
    active = Send(newsletter=news, status="sending", total=10, sent=3, failed=1, skipped=0)
    done = Send(newsletter=newsletter(), status="sent", total=5, sent=5)
    db.session.add_all([active, done])
    db.session.flush()
    lease = metrics_app.config["SEND_LEASE_SECONDS"]
    db.session.add_all(
        [
            SendBatch(
                send_id=active.id,
                after_id=0,
                upto_id=10,
                status=BatchStatus.RUNNING,
                lease_until=now + timedelta(seconds=lease - 7),
            ),
            OutboxJob(
                task="tests.metrics",
                status=JobStatus.PENDING,
                created_at=now - timedelta(seconds=90),
            ),
            OutboxJob(
                task="tests.metrics", status=JobStatus.DONE, created_at=now - timedelta(days=9)
            ),
            Heartbeat(
                name=f"w-{uuid.uuid4().hex[:6]}@host",
                kind="worker",
                beat_at=now - timedelta(hours=1),
            ),
        ]
    )
    db.session.commit()
    samples = scraped(metrics_app.test_client())

    def gauge(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    sid = str(active.id)
    assert (
        gauge("newsletter_send_recipients", send_id=sid, newsletter=news.slug, status="sending")
        == 10
    )
    assert gauge("newsletter_send_handled", send_id=sid, newsletter=news.slug, outcome="sent") == 3
    assert (
        gauge("newsletter_send_handled", send_id=sid, newsletter=news.slug, outcome="failed") == 1
    )
    assert not [k for k in samples if ("send_id", str(done.id)) in k[1]]  # finished: no series
    assert gauge("newsletter_outbox_jobs_waiting", task="tests.metrics") == 1
    assert 85 <= gauge("newsletter_outbox_oldest_waiting_seconds", task="tests.metrics") < 600
    assert 6 <= gauge("newsletter_batch_lease_oldest_seconds") < 60
    assert gauge("newsletter_metrics_database_readable") == 1
    assert ("newsletter_processes_alive", frozenset({("kind", "beat")})) in samples


def test_a_database_that_cannot_be_read_still_answers(sqlite_app_with, tmp_path):
    broken = sqlite_app_with(
        METRICS_TOKEN=TOKEN, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/x.db"
    )
    with broken.app_context():
        response = broken.test_client().get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert "newsletter_metrics_database_readable 0.0" in response.get_data(as_text=True)


def test_production_wants_a_long_token_and_the_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("METRICS_TOKEN", "short")
    with pytest.raises(ConfigError, match="METRICS_TOKEN needs at least 32"):
        load_settings()
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR is not"):
        load_settings()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    assert load_settings()["METRICS_TOKEN"] == TOKEN


def test_a_dead_process_loses_what_the_library_would_take(tmp_path):
    """`processes.mark_process_dead` (no import of the library: gunicorn's master) removes
    exactly the files prometheus-client's own `mark_process_dead` removes."""
    names = [
        f"{kind}_{pid}.db"
        for pid in (4242, 4243)
        for kind in (
            "counter",
            "histogram",
            "gauge_all",
            "gauge_livesum",
            "gauge_liveall",
            "gauge_max",
        )
    ]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder in (ours, theirs):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b"")
    processes.mark_process_dead(4242, ours)
    library_multiprocess.mark_process_dead(4242, str(theirs))
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    assert "counter_4242.db" in {p.name for p in ours.iterdir()}  # counts stay
    assert "gauge_livesum_4242.db" not in {p.name for p in ours.iterdir()}
    assert processes.clean(ours) == len(names) - 2
    assert list(ours.iterdir()) == []


def test_smtp_answers_are_timed_by_their_class(smtp_server):
    """The transport times every transaction with the relay, by the class of its answer."""
    smtp_server.clear()
    message = b"From: a@news.example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    before = {
        c: value("newsletter_smtp_answer_seconds_count", answer=c) for c in ("2xx", "4xx", "5xx")
    }
    with transport_from_url(smtp_server.url) as transport:
        transport.send(message, "a@news.example.org", ["b@example.org"])
        smtp_server.fail_next(421, "4.7.0 Try again later", on="DATA")
        with pytest.raises(TransientMailError):
            transport.send(message, "a@news.example.org", ["b@example.org"])
        smtp_server.fail_next(554, "5.7.1 No", on="DATA")
        with pytest.raises(PermanentMailError):
            transport.send(message, "a@news.example.org", ["b@example.org"])
    smtp_server.clear_failures()
    for answer in ("2xx", "4xx", "5xx"):
        assert value("newsletter_smtp_answer_seconds_count", answer=answer) == before[answer] + 1


def test_a_complaint_counts_as_an_unsubscribe_through_its_channel(metrics_app):
    news = newsletter()
    reader = add_reader(news)
    before = value("newsletter_unsubscribes_total", channel="complaint", newsletter=news.slug)
    event = FeedbackEvent(
        source="arf", kind="complaint", provider_event_id=uuid.uuid4().hex, recipient=reader.email
    )
    assert record_feedback(event).action == "unsubscribed"
    assert record_feedback(event).created is False  # the same report again: counted once
    after = value("newsletter_unsubscribes_total", channel="complaint", newsletter=news.slug)
    assert after == before + 1

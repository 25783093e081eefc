"""Webhooks out, end to end: a receiver on 127.0.0.1 that fails, then answers, then is gone.

Each request's signature is checked with the `standardwebhooks` package's own verifier. Most
tests run the outbox's jobs in this process (`JOBS_RUN_INLINE`) with the clock moved on for
the retries; the last runs a real worker on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service import outbox
from service.access.keys import create_api_key
from service.extensions import db
from service.leaving import changes
from service.lists.subscribers import erase_subscriber
from service.models import (
    Article,
    JobStatus,
    Newsletter,
    OutboxJob,
    Send,
    SendStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    WebhookEndpoint,
    utcnow,
)
from service.sending import lifecycle
from service.signup.confirm import confirm, confirmation_token
from service.task_names import TaskName
from service.webhooks import events
from tests.conftest import unique_email
from tests.support.readers import add_reader
from tests.support.webhook_receiver import WebhookReceiver

READER_EVENTS = ["subscriber.unsubscribed", "subscriber.erased", "send.paused"]


@pytest.fixture
def inline_app(sqlite_app_with) -> Iterator[Flask]:
    """An app whose jobs run in this process right after their commit, private hosts allowed."""
    app = sqlite_app_with(JOBS_RUN_INLINE=True, WEBHOOK_ALLOW_PRIVATE=True)
    with app.app_context():
        yield app
        db.session.remove()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(f'webhooks-{uuid.uuid4().hex[:8]}')}"}


def _add(client, url: str, events=READER_EVENTS) -> dict:
    answer = client.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=_auth())
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _reader(slug: str = "daily") -> tuple[Subscriber, Newsletter]:
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if newsletter is None:
        newsletter = Newsletter(slug=slug, name=slug.title())
    email = unique_email()
    reader = Subscriber(email=email, email_ascii=email, email_key=email)
    reader.subscriptions = [
        Subscription(newsletter=newsletter, status=SubscriptionStatus.CONFIRMED)
    ]
    db.session.add(reader)
    db.session.commit()
    return reader, newsletter


def _verified(secret: str, received) -> list[dict]:
    """Every request's body, each verified by the library (a bad signature raises)."""
    return [Webhook(secret).verify(body, headers) for headers, body in received]


def _later(seconds: float):
    return time_machine.travel(utcnow() + timedelta(seconds=seconds), tick=True)


def test_failed_then_delivered_then_gone_disables_the_endpoint(inline_app):
    client = inline_app.test_client()
    with WebhookReceiver([500, 200, 410]) as receiver:
        hook = _add(client, receiver.url)
        assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
        reader, newsletter = _reader()

        assert changes.unsubscribe(reader.id, newsletter.id, "one-click")  # the 500
        assert len(receiver.received) == 1
        with _later(10):  # past the first retry's 5 s (+ jitter)
            assert outbox.sweep() == 1  # the 200
        assert len(receiver.received) == 2
        first, second = (headers for headers, _ in receiver.received)
        assert first["webhook-id"] == second["webhook-id"]  # one event, tried twice

        other, _ = _reader()
        assert changes.unsubscribe_all(other.id, "preferences")  # the 410
        assert len(receiver.received) == 3

        bodies = _verified(hook["secret"], receiver.received)
        assert [b["type"] for b in bodies] == ["subscriber.unsubscribed"] * 3
        assert bodies[0]["data"] == {
            "subscriber_id": reader.id,
            "email": reader.email,
            "newsletters": ["daily"],
            "cause": "one-click",
        }
        assert bodies[2]["data"]["subscriber_id"] == other.id

        shown = client.get("/api/v1/webhooks", headers=_auth()).get_json()["webhooks"]
        assert shown[0]["enabled"] is False and "410" in shown[0]["disabled_reason"]
        assert "secret" not in shown[0]
        attempts = client.get(f"/api/v1/webhooks/{hook['id']}/attempts", headers=_auth())
        tries = attempts.get_json()["attempts"]
        assert [(a["status"], a["outcome"]) for a in tries] == [
            (410, "disabled"),
            (200, "delivered"),
            (500, "retrying"),
        ]
        assert tries[2]["response"] == "answer 1: 500" and tries[2]["duration_ms"] >= 0

        third, _ = _reader()
        changes.unsubscribe(third.id, newsletter.id, "one-click")
        assert len(receiver.received) == 3  # a disabled endpoint gets nothing more


def test_a_rolled_back_change_sends_nothing(inline_app):
    with WebhookReceiver([200]) as receiver:
        _add(inline_app.test_client(), receiver.url)
        reader, _ = _reader()
        reader.subscriptions[0].move_to(SubscriptionStatus.UNSUBSCRIBED, "one-click")
        events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, reader, ["daily"], "one-click")
        db.session.flush()
        db.session.rollback()
        with _later(3600):
            outbox.sweep()
        assert receiver.received == []
        assert (
            db.session.scalars(
                select(OutboxJob).where(OutboxJob.task == TaskName.DELIVER_WEBHOOK)
            ).all()
            == []
        )


def test_a_private_address_is_refused_by_default_at_creation_and_at_delivery(
    inline_app, sqlite_app_with
):
    with WebhookReceiver([200]) as receiver:
        hook = _add(inline_app.test_client(), receiver.url)  # allowed here
        strict = sqlite_app_with(JOBS_RUN_INLINE=True, WEBHOOK_ALLOW_PRIVATE=False)
        with strict.app_context():
            client = strict.test_client()
            refused = client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["send.paused"]},
                headers=_auth(),
            )
            assert refused.status_code == 422
            assert refused.get_json()["code"] == "private_address"
            reader, newsletter = _reader()
            changes.unsubscribe(reader.id, newsletter.id, "one-click")
            assert receiver.received == []  # the socket was checked before a byte was sent
            [attempt] = client.get(
                f"/api/v1/webhooks/{hook['id']}/attempts", headers=_auth()
            ).get_json()["attempts"]
            assert attempt["status"] is None and "not public" in attempt["error"]
            db.session.remove()


def test_429_with_retry_after_slows_the_endpoint_down(inline_app):
    with WebhookReceiver([(429, {"Retry-After": "120"}), 200]) as receiver:
        hook = _add(inline_app.test_client(), receiver.url)
        reader, newsletter = _reader()
        changes.unsubscribe(reader.id, newsletter.id, "one-click")
        other, _ = _reader()
        changes.unsubscribe(other.id, newsletter.id, "one-click")  # waits: not even tried
        assert len(receiver.received) == 1
        endpoint = db.session.get(WebhookEndpoint, hook["id"])
        assert 110 <= (endpoint.paused_until - utcnow()).total_seconds() <= 121
        with _later(60):
            assert outbox.sweep() == 0  # nothing due before the endpoint's time
        with _later(150):
            outbox.sweep()
        assert len(receiver.received) == 3
        ids = {h["webhook-id"] for h, _ in receiver.received}
        assert len(ids) == 2 and len(_verified(hook["secret"], receiver.received[1:])) == 2


def test_an_endpoint_that_keeps_failing_is_disabled_with_the_reason(inline_app):
    with WebhookReceiver([503]) as receiver:
        hook = _add(inline_app.test_client(), receiver.url)
        reader, newsletter = _reader()
        changes.unsubscribe(reader.id, newsletter.id, "one-click")
        waited = 0
        bodies = _verified(hook["secret"], receiver.received)
        for _ in range(7):  # the schedule's seven retries, about 27 h
            waited += 13 * 3600
            with _later(waited):
                outbox.sweep()
                bodies += _verified(hook["secret"], receiver.received[-1:])  # signed anew
        assert len(receiver.received) == 8
        assert len({b["timestamp"] for b in bodies}) == 1  # one event, tried eight times
        endpoint = db.session.get(WebhookEndpoint, hook["id"], populate_existing=True)
        assert endpoint.disabled_at is not None
        assert endpoint.disabled_reason.startswith("failing since")
        assert "HTTP 503" in endpoint.disabled_reason
        job = db.session.scalar(select(OutboxJob).where(OutboxJob.task == TaskName.DELIVER_WEBHOOK))
        assert job.status == JobStatus.DONE and job.attempts == 8


def test_an_erased_readers_pending_events_are_not_delivered(inline_app):
    with WebhookReceiver([500, 200]) as receiver:
        hook = _add(inline_app.test_client(), receiver.url)
        reader, newsletter = _reader()
        changes.unsubscribe(reader.id, newsletter.id, "one-click")  # 500: waits for a retry
        reader_id, email = reader.id, reader.email
        erase_subscriber(reader)  # announced at once (200)
        with _later(3600):
            outbox.sweep()
        bodies = _verified(hook["secret"], receiver.received)
        assert [b["type"] for b in bodies] == ["subscriber.unsubscribed", "subscriber.erased"]
        assert bodies[1]["data"] == {"subscriber_id": reader_id}
        assert email not in json.dumps(bodies[1])


def test_a_paused_send_is_announced(inline_app):
    with WebhookReceiver([200]) as receiver:
        hook = _add(inline_app.test_client(), receiver.url, ["send.paused"])
        _, newsletter = _reader("weekly")
        send = Send(newsletter_id=newsletter.id, status=SendStatus.SENDING, total=3)
        db.session.add(send)
        db.session.commit()
        lifecycle.pause_send(send.id, "paused by an operator")
        [body] = _verified(hook["secret"], receiver.received)
        assert body["type"] == "send.paused"
        assert body["data"]["send_id"] == send.id and body["data"]["newsletter"] == "weekly"
        assert body["data"]["status"] == "paused" and body["data"]["total"] == 3


def test_webhooks_through_a_real_worker(stack, app, client):
    """The stack's worker delivers; the test's process plays beat's sweep for the retry."""
    with WebhookReceiver([500, 200, 410]) as receiver:
        hook = _add(client, receiver.url)
        reader, newsletter = _reader(f"wh-{stack.backend}")
        changes.unsubscribe(reader.id, newsletter.id, "one-click")
        receiver.wait_for(1)

        def sweep_when_due() -> None:
            with _later(10):
                outbox.sweep()

        receiver.wait_for(2, tick=sweep_when_due)
        other, _ = _reader(newsletter.slug)
        changes.unsubscribe(other.id, newsletter.id, "one-click")
        receiver.wait_for(3)
        bodies = _verified(hook["secret"], receiver.received)
        assert [b["data"]["subscriber_id"] for b in bodies] == [reader.id, reader.id, other.id]
        deadline = time.monotonic() + 10
        while _endpoint_state(hook["id"]) is None:  # the worker records the 410 after it
            assert time.monotonic() < deadline, "the endpoint was not disabled"
            time.sleep(0.1)
        assert "410" in _endpoint_state(hook["id"])


def _endpoint_state(endpoint_id: int) -> str | None:
    """The endpoint's disabled reason, None while enabled (read on a fresh transaction)."""
    db.session.commit()
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    return endpoint.disabled_reason if endpoint.disabled_at is not None else None


def test_the_cli_adds_lists_shows_attempts_and_removes(inline_app):
    runner = inline_app.test_cli_runner()
    with WebhookReceiver([200]) as receiver:
        added = runner.invoke(
            args=["webhooks", "add", receiver.url, "--event", "subscriber.unsubscribed"]
        )
        assert added.exit_code == 0, added.output
        secret = added.output.split("secret: ")[1].split()[0]
        hook_id = int(added.output.split()[1].rstrip(":"))
        reader, newsletter = _reader()
        changes.unsubscribe(reader.id, newsletter.id, "one-click")
        [body] = _verified(secret, receiver.received)
        assert body["data"]["subscriber_id"] == reader.id

        listed = runner.invoke(args=["webhooks", "list"])
        assert f"{hook_id}\t{receiver.url}\tsubscriber.unsubscribed\tenabled" in listed.output
        assert "whsec_" not in listed.output
        attempts = runner.invoke(args=["webhooks", "attempts", str(hook_id)])
        assert (
            "subscriber.unsubscribed" in attempts.output and "\tdelivered\t200\t" in attempts.output
        )

        unknown = runner.invoke(args=["webhooks", "add", receiver.url, "--event", "send.exploded"])
        assert unknown.exit_code == 2 and "send.exploded" in unknown.output
        bad = runner.invoke(args=["webhooks", "add", "ftp://x.example/", "--event", "send.paused"])
        assert bad.exit_code == 2 and "http(s)" in bad.output and "Traceback" not in bad.output

        assert runner.invoke(args=["webhooks", "remove", str(hook_id)]).exit_code == 0
        gone = runner.invoke(args=["webhooks", "remove", str(hook_id)])
        assert gone.exit_code == 1 and f"no webhook {hook_id}" in gone.output


def test_the_api_refuses_bad_input_clearly(inline_app):
    client = inline_app.test_client()
    cases = [
        ({"url": "https://hooks.example.org/x"}, "required"),
        ({"url": "https://hooks.example.org/x", "events": ["nope"]}, "unknown_event"),
        ({"url": "javascript:alert(1)", "events": ["send.paused"]}, "invalid_url"),
        ({"url": 7, "events": ["send.paused"]}, "invalid_url"),
    ]
    for body, code in cases:
        answer = client.post("/api/v1/webhooks", json=body, headers=_auth())
        assert (answer.status_code, answer.get_json()["code"]) == (422, code), body
    assert client.post("/api/v1/webhooks", json=[1], headers=_auth()).status_code == 400
    assert client.post("/api/v1/webhooks", json={}).status_code == 401
    assert client.delete("/api/v1/webhooks/99", headers=_auth()).status_code == 404
    assert client.get("/api/v1/webhooks/99/attempts", headers=_auth()).status_code == 404


def test_confirming_and_choosing_on_the_preference_page_are_announced(inline_app):
    with WebhookReceiver([200]) as receiver:
        events_wanted = ["subscriber.confirmed", "subscriber.unsubscribed"]
        hook = _add(inline_app.test_client(), receiver.url, events_wanted)
        reader, newsletter = _reader()
        reader.subscriptions[0].status = SubscriptionStatus.PENDING
        db.session.commit()
        confirm(confirmation_token(reader))
        newsletter.is_public = True
        db.session.commit()
        changes.save_preferences(reader.id, [])  # leaves every public newsletter
        bodies = _verified(hook["secret"], receiver.received)
        assert [(b["type"], b["data"]["newsletters"], b["data"]["cause"]) for b in bodies] == [
            ("subscriber.confirmed", ["daily"], "confirm-link"),
            ("subscriber.unsubscribed", ["daily"], "preferences"),
        ]


def test_a_rotated_secret_and_the_old_one_both_verify_for_a_day(inline_app):
    client = inline_app.test_client()
    with WebhookReceiver([200]) as receiver:
        hook = _add(client, receiver.url)
        rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=_auth())
        assert rotated.status_code == 200
        new = rotated.get_json()["secret"]
        assert new.startswith("whsec_") and new != hook["secret"]
        reader, newsletter = _reader()
        changes.unsubscribe(reader.id, newsletter.id, "one-click")
        assert _verified(new, receiver.received) == _verified(hook["secret"], receiver.received)
        with _later(25 * 3600):  # the overlap is over: only the new secret signs
            other, _ = _reader()
            changes.unsubscribe(other.id, newsletter.id, "one-click")
            assert _verified(new, receiver.received[1:])
            with pytest.raises(WebhookVerificationError):
                _verified(hook["secret"], receiver.received[1:])
        assert client.post("/api/v1/webhooks/99/rotate", headers=_auth()).status_code == 404


def test_a_real_send_is_announced_when_it_starts_and_when_it_finishes(
    stack, app, client, api_key, newsletter, smtp
):
    """Through the stack's worker: the send's own transactions queue its events."""
    with WebhookReceiver([200]) as receiver:
        hook = _add(client, receiver.url, ["send.started", "send.finished"])
        news = newsletter()
        db.session.add(
            Article(
                url=f"https://news.example.org/{stack.backend}/{unique_email()}",
                title="Story",
                summary_text="What happened today.",
                published_at=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
        readers = [add_reader(news) for _ in range(2)]
        answer = client.post(
            f"/api/v1/newsletters/{news.slug}/sends",
            json={},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert answer.status_code == 201, answer.get_json()
        receiver.wait_for(2, timeout=60)
        bodies = _verified(hook["secret"], receiver.received)
        assert [b["type"] for b in bodies] == ["send.started", "send.finished"]
        started, finished = (b["data"] for b in bodies)
        assert started["send_id"] == finished["send_id"] == answer.get_json()["id"]
        assert started["newsletter"] == news.slug and started["total"] == len(readers)
        assert (finished["status"], finished["sent"]) == ("sent", len(readers))
        assert not {r.email for r in readers} & set(json.dumps(bodies).split('"'))

"""Events are queued in the transaction of the change they report, one job per endpoint that
wants them, and only what the event needs goes into them."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from service.extensions import db
from service.leaving import changes
from service.lists.subscribers import erase_subscriber
from service.models import (
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    WebhookEndpoint,
    utcnow,
)
from service.task_names import TaskName
from service.webhooks import events
from service.webhooks.delivery import body_of, retry_after_seconds
from service.webhooks.signing import new_secret, signed_headers


def _endpoint(types, **fields) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url="https://hooks.example.org/x", events=types, secret=new_secret(), **fields
    )
    endpoint.disabled_reason = ""
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def _reader(newsletter, status=SubscriptionStatus.CONFIRMED) -> Subscriber:
    reader = Subscriber(
        email="Olena@Gmail.com", email_ascii="Olena@Gmail.com", email_key="olena@gmail.com"
    )
    reader.subscriptions = [Subscription(newsletter=newsletter, status=status)]
    db.session.add(reader)
    db.session.commit()
    return reader


def _queued() -> list[dict]:
    return [
        job.payload
        for job in db.session.scalars(
            select(OutboxJob).where(OutboxJob.task == TaskName.DELIVER_WEBHOOK)
        )
    ]


def test_an_event_type_is_registered_once():
    assert set(events.EVENT_TYPES) == {
        "subscriber.confirmed",
        "subscriber.unsubscribed",
        "subscriber.bounced",
        "subscriber.complained",
        "subscriber.erased",
        "send.started",
        "send.finished",
        "send.paused",
        "send.failed",
    }
    with pytest.raises(ValueError, match="twice"):
        events.register("send.started", "again")
    with pytest.raises(ValueError, match="unknown"):
        events.emit("send.exploded", {})


def test_an_event_is_queued_in_the_change_and_not_if_the_change_rolls_back(
    unit_app, add_newsletter
):
    """The job is a row of the change's own transaction: rolled back, nothing is queued.
    (Committed, it would be delivered at once: the unit tier has no network, so the commit is
    seen on the session, and delivery is the functional tests' business.)"""
    _endpoint(["subscriber.unsubscribed"])
    reader = _reader(add_newsletter("daily"))
    subscription = reader.subscriptions[0]
    subscription.move_to(SubscriptionStatus.UNSUBSCRIBED, "one-click")
    assert events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, reader, ["daily"], "one-click")
    db.session.flush()
    [payload] = _queued()  # in the transaction
    assert payload["type"] == "subscriber.unsubscribed"
    assert payload["data"] == {
        "subscriber_id": reader.id,
        "email": "Olena@Gmail.com",
        "newsletters": ["daily"],
        "cause": "one-click",
    }
    db.session.rollback()
    assert _queued() == []
    assert reader.subscriptions[0].status == SubscriptionStatus.CONFIRMED


def test_only_enabled_endpoints_that_want_the_type_get_a_job(unit_app, add_newsletter):
    wants = _endpoint(["subscriber.unsubscribed", "send.started"])
    _endpoint(["send.started"])
    _endpoint(["subscriber.unsubscribed"], disabled_at=utcnow())
    reader = _reader(add_newsletter("daily"))
    events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, reader, ["daily"])
    db.session.flush()
    [payload] = _queued()
    assert payload["endpoint_id"] == wants.id and payload["subscriber_id"] == reader.id
    assert payload["message_id"].startswith("msg_")
    db.session.rollback()


def test_no_endpoint_no_job_and_no_newsletter_no_event(unit_app, add_newsletter):
    reader = _reader(add_newsletter("daily"))
    assert events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, reader, ["daily"]) == 0
    _endpoint(["subscriber.unsubscribed"])
    assert events.reader_event(events.SUBSCRIBER_UNSUBSCRIBED, reader, []) == 0
    db.session.flush()
    assert _queued() == []


def test_the_services_announce_their_changes(unit_app, add_newsletter):
    """Unsubscribing and erasing queue their events through the service functions."""
    _endpoint(["subscriber.unsubscribed"])
    newsletter = add_newsletter("daily")
    reader = _reader(newsletter)
    # a committed job is run at once on this tier: a host under .invalid never resolves, so
    # no connection is made and the job waits for its retry, its row there to be read
    db.session.execute(WebhookEndpoint.__table__.update().values(url="https://hooks.invalid/"))
    db.session.commit()
    assert changes.unsubscribe(reader.id, newsletter.id, "footer-link")
    [payload] = _queued()
    assert payload["data"]["cause"] == "footer-link"


def test_erasure_drops_the_readers_queued_events_and_announces_itself_without_the_address(
    unit_app, add_newsletter
):
    endpoint = _endpoint(["subscriber.erased"])
    reader = _reader(add_newsletter("daily"))
    other = Subscriber(email="b@gmail.com", email_ascii="b@gmail.com", email_key="b@gmail.com")
    db.session.add(other)
    db.session.flush()
    for who in (reader, other):  # waiting events of two readers (stranded rows)
        db.session.add(
            OutboxJob(
                task=TaskName.DELIVER_WEBHOOK,
                payload={"endpoint_id": endpoint.id, "subscriber_id": who.id, "type": "x"},
            )
        )
    db.session.commit()
    reader_id = reader.id
    db.session.execute(WebhookEndpoint.__table__.update().values(events=["subscriber.erased"]))
    # the erasure's own event is run inline at commit: .invalid keeps it off the network
    db.session.execute(WebhookEndpoint.__table__.update().values(url="https://hooks.invalid/"))
    db.session.commit()
    erase_subscriber(reader)
    left = _queued()
    assert [p.get("subscriber_id") for p in left if p.get("type") == "x"] == [other.id]
    [erased] = [p for p in left if p.get("type") == "subscriber.erased"]
    assert erased["data"] == {"subscriber_id": reader_id} and "subscriber_id" not in erased
    assert "olena" not in json.dumps(erased).lower()


def test_a_delivery_is_signed_as_standard_webhooks_and_verifies_with_the_library():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    payload = {
        "type": "send.finished",
        "timestamp": "2026-12-07T05:00:00Z",
        "data": {"send_id": 4, "newsletter": "daily"},
    }
    body = body_of(payload)
    now = utcnow()
    headers = signed_headers([secret], "msg_abc", now, body)
    assert Webhook(secret).verify(body, headers) == payload
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    tampered = body.replace(b"daily", b"dailx")
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)


def test_while_a_rotated_secret_overlaps_both_sign_and_either_verifies():
    old, new = new_secret(), new_secret()
    body = b'{"type":"send.paused","timestamp":"2026-12-07T05:00:00Z","data":{}}'
    headers = signed_headers([new, old], "msg_rot", utcnow(), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "send.paused"
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("999999999", 86400.0),  # at most a day
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a past date: now
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(value, seconds):
    assert retry_after_seconds(value, utcnow().timestamp()) == seconds


def test_retry_after_as_a_future_date():
    now = utcnow()
    later = (now + timedelta(seconds=600)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 590 <= retry_after_seconds(later, now.timestamp()) <= 601

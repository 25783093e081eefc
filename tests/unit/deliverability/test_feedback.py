"""The one intake: a notification acts once, by the class of its status code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.leaving import suppression
from service.models import (
    Delivery,
    DeliveryStatus,
    FeedbackRecord,
    OutboxJob,
    Send,
    SendStatus,
    SubscriptionStatus,
    WebhookEndpoint,
)
from service.task_names import TaskName
from service.webhooks.signing import new_secret
from tests.support.readers import add_reader, statuses


def _hooks(*types: str) -> None:
    endpoint = WebhookEndpoint(url="https://hooks.example.org/x", events=list(types))
    endpoint.secret, endpoint.disabled_reason = new_secret(), ""
    db.session.add(endpoint)
    db.session.commit()


def _announced() -> list[tuple[str, dict]]:
    jobs = db.session.scalars(
        select(OutboxJob).where(OutboxJob.task == TaskName.DELIVER_WEBHOOK).order_by(OutboxJob.id)
    )
    return [(job.payload["type"], job.payload["data"]) for job in jobs]


def _send(newsletter, reader, status=SendStatus.SENT) -> Send:
    send = Send(newsletter=newsletter, status=status, subject="s", sent=1, total=1)
    db.session.add(send)
    db.session.flush()
    db.session.add(Delivery(send_id=send.id, subscriber_id=reader.id, status=DeliveryStatus.SENT))
    db.session.commit()
    return send


def _event(**fields) -> FeedbackEvent:
    return FeedbackEvent(**{"source": "ses", "kind": "bounce", "provider_event_id": "e1"} | fields)


def test_a_hard_bounce_by_message_id_bounces_and_suppresses_once(unit_app, add_newsletter):
    daily, weekly = add_newsletter("daily"), add_newsletter("weekly")
    reader = add_reader(daily, weekly)
    send = _send(daily, reader)
    _hooks("subscriber.bounced")
    event = _event(
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 user unknown",
        message_id=f"<send-{send.id}-{reader.id}@news.example.org>",
    )

    first = record_feedback(event)
    second = record_feedback(event)

    assert (first.created, first.bounce_class, first.action) == (True, "hard", "suppressed")
    assert (first.send_id, first.subscriber_id) == (send.id, reader.id)
    assert first.delivery_id is not None
    assert (second.created, second.action) == (False, "duplicate")
    assert statuses(reader.id) == {"daily": "bounced", "weekly": "bounced"}
    assert suppression.reason(reader.email_key) == "bounce"
    assert db.session.scalar(select(func.count()).select_from(FeedbackRecord)) == 1
    announced = _announced()
    assert [t for t, _ in announced] == ["subscriber.bounced"]
    assert announced[0][1]["status_code"] == "5.1.1"
    assert sorted(announced[0][1]["newsletters"]) == ["daily", "weekly"]


def test_the_status_code_decides_not_the_label(unit_app, add_newsletter):
    daily = add_newsletter("daily")
    policy, full = add_reader(daily), add_reader(daily)
    refused = record_feedback(_event(provider_event_id="p", status="5.7.1", recipient=policy.email))
    mailbox_full = record_feedback(
        _event(
            provider_event_id="f",
            status="",
            diagnostic="552 5.2.2 over quota",
            recipient=full.email,
        )
    )
    assert (refused.bounce_class, refused.action) == ("policy", "none")
    assert (mailbox_full.bounce_class, mailbox_full.action) == ("soft", "counted")
    assert statuses(policy.id) == {"daily": "confirmed"}
    assert statuses(full.id) == {"daily": "confirmed"}
    assert suppression.reason(policy.email_key) is None


def test_a_complaint_unsubscribes_from_everything_and_suppresses(unit_app, add_newsletter):
    daily, weekly = add_newsletter("daily"), add_newsletter("weekly")
    reader = add_reader(daily, weekly)
    _hooks("subscriber.complained", "subscriber.unsubscribed")
    outcome = record_feedback(
        _event(source="arf", kind="complaint", recipient=reader.email.upper())
    )
    assert (outcome.bounce_class, outcome.action) == ("complaint", "unsubscribed")
    assert statuses(reader.id) == {"daily": "unsubscribed", "weekly": "unsubscribed"}
    assert suppression.reason(reader.email_key) == "complaint"
    assert sorted(t for t, _ in _announced()) == [
        "subscriber.complained",
        "subscriber.unsubscribed",
    ]
    again = record_feedback(_event(source="arf", kind="complaint", recipient=reader.email.upper()))
    assert not again.created and len(_announced()) == 2


def test_soft_bounces_suppress_only_after_three_in_fifteen_days(unit_app, add_newsletter):
    daily = add_newsletter("daily")
    reader = add_reader(daily)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def soft(n: int, day: float) -> str:
        with time_machine.travel(start + timedelta(days=day), tick=False):
            return record_feedback(
                _event(provider_event_id=f"s{n}", status="4.2.2", recipient=reader.email)
            ).action

    assert [soft(1, 0), soft(2, 1)] == ["counted", "counted"]
    assert soft(3, 20) == "counted"  # the first two are out of the window by now
    assert soft(4, 21) == "counted"
    assert statuses(reader.id) == {"daily": "confirmed"}
    assert soft(5, 22) == "suppressed"  # days 20, 21, 22
    assert statuses(reader.id) == {"daily": "bounced"}
    assert suppression.reason(reader.email_key) == "bounce"


def test_a_possible_duplicates_two_bounces_count_once(unit_app, add_newsletter):
    daily = add_newsletter("daily")
    reader = add_reader(daily)
    send = _send(daily, reader)
    for n in range(3):  # the same send's message, three copies: one soft bounce
        record_feedback(
            _event(
                provider_event_id=f"d{n}", status="4.4.7", send_id=send.id, subscriber_id=reader.id
            )
        )
    assert statuses(reader.id) == {"daily": "confirmed"}


def test_ids_that_name_someone_else_than_the_recipient_are_not_trusted(unit_app, add_newsletter):
    daily = add_newsletter("daily")
    reader, other = add_reader(daily), add_reader(daily)
    send = _send(daily, reader)
    outcome = record_feedback(
        _event(status="5.1.1", recipient=other.email, send_id=send.id, subscriber_id=reader.id)
    )
    assert (outcome.subscriber_id, outcome.send_id) == (other.id, None)
    assert statuses(reader.id) == {"daily": SubscriptionStatus.CONFIRMED}
    assert statuses(other.id) == {"daily": SubscriptionStatus.BOUNCED}


def test_an_address_nobody_has_is_suppressed_and_a_missing_code_does_nothing(unit_app):
    hard = record_feedback(_event(status="5.1.1", recipient="gone@gmail.com"))
    assert (hard.subscriber_id, hard.action) == (None, "suppressed")
    assert suppression.reason("gone@gmail.com") == "bounce"
    vague = record_feedback(_event(provider_event_id="v", recipient="x@gmail.com"))
    assert (vague.bounce_class, vague.action) == ("unknown", "none")
    assert suppression.reason("x@gmail.com") is None

"""Sending digests end to end: a real worker, Redis and SMTP server, every reader exactly once."""

from __future__ import annotations

import threading
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from service.config import SEND_DEFAULTS
from service.extensions import db
from service.leaving.suppression import suppression_hash
from service.models import (
    Article,
    Delivery,
    DeliveryStatus,
    Newsletter,
    Send,
    SendBatch,
    SendStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.sending import fanout, scheduling
from service.sending.personalize import Placeholders
from service.tokens import token_service
from tests.support.readers import add_reader

FINAL = {"sent", "cancelled", "skipped", "failed"}


def fresh_article() -> Article:
    """A just-published article, so the digest has something new to say."""
    article = Article(
        url=f"https://news.example.org/{uuid.uuid4().hex}",
        title=f"Story {uuid.uuid4().hex[:6]}",
        summary_text="What happened today.",
        published_at=utcnow() - timedelta(minutes=1),
    )
    db.session.add(article)
    db.session.commit()
    return article


def reader(newsletter: Newsletter, status=SubscriptionStatus.CONFIRMED, name=None) -> Subscriber:
    """A committed reader of `newsletter` with `status`."""
    return add_reader(newsletter, status=status, name=name)


def create(client, api_key, slug, **body) -> int:
    response = client.post(
        f"/api/v1/newsletters/{slug}/sends",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "scheduled"
    return response.get_json()["id"]


def show(client, api_key, send_id) -> dict:
    response = client.get(
        f"/api/v1/sends/{send_id}", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200
    return response.get_json()


def control(client, api_key, send_id, action) -> dict:
    response = client.post(
        f"/api/v1/sends/{send_id}/{action}", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def wait_status(client, api_key, send_id, statuses, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = show(client, api_key, send_id)
        if body["status"] in statuses:
            return body
        time.sleep(0.1)
    raise AssertionError(f"send {send_id} never reached {statuses}: {body}")


def received(smtp, addresses) -> list:
    wanted = {a.lower() for a in addresses}
    return [m for m in smtp.messages if m.recipients[0].lower() in wanted]


def wait_received(smtp, addresses, count, timeout=20.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(received(smtp, addresses)) < count:
        time.sleep(0.05)
    return received(smtp, addresses)


def test_every_confirmed_reader_gets_the_digest_exactly_once(client, api_key, newsletter, smtp):
    news = newsletter()
    fresh_article()
    confirmed = [reader(news) for _ in range(6)]
    named = reader(news, name='Олена "Q" <x@evil.example>')
    confirmed.append(named)
    never = [reader(news, status=s) for s in ("pending", "unsubscribed", "bounced")]
    suppressed = reader(news)
    db.session.add(Suppression(email_hash=suppression_hash(suppressed.email_key), reason="erased"))
    db.session.commit()
    other = newsletter()
    never.append(reader(other))

    send_id = create(client, api_key, news.slug)
    body = wait_status(client, api_key, send_id, FINAL)

    assert body["status"] == "sent"
    assert (body["total"], body["sent"], body["failed"], body["skipped"]) == (8, 7, 0, 1)
    assert body["newsletter"] == news.slug and body["started_at"] and body["finished_at"]
    messages = received(smtp, [s.email for s in confirmed + never + [suppressed]])
    assert sorted(m.recipients[0] for m in messages) == sorted(s.email for s in confirmed)
    assert len({m.message["Message-ID"] for m in messages}) == len(confirmed)
    public = client.application.config["PUBLIC_URL"]
    placeholders = Placeholders.stored_in(db.session.get(Send, send_id).content)
    for message in messages:
        mail = message.message
        subscriber = next(s for s in confirmed if s.email == message.recipients[0])
        unsubscribe = mail["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<{public}/unsubscribe/") and unsubscribe.endswith(">")
        token = unsubscribe[len(f"<{public}/unsubscribe/") : -1]
        payload = token_service("unsubscribe").loads(token)
        assert (payload["s"], payload["n"]) == (subscriber.id, news.id)
        raw_header = message.data.split(b"\r\n\r\n", 1)[0]
        assert b"List-Unsubscribe: <" + public.encode() in raw_header  # never an encoded-word
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert news.slug in mail["List-Id"]
        assert mail.get_content_type() == "multipart/alternative"
        assert mail["To"].addresses[0].addr_spec == subscriber.email
        html = mail.get_body(("html",)).get_content()
        text = mail.get_body(("plain",)).get_content()
        assert f"{public}/unsubscribe/{token}" in html and f"{public}/unsubscribe/{token}" in text
        assert not placeholders.found_in(message.data.decode("ascii") + html + text)
    named_mail = next(m for m in messages if m.recipients[0] == named.email).message
    assert named_mail["To"].addresses[0].display_name == named.name
    raw = next(m for m in messages if m.recipients[0] == named.email).data
    to_line = raw.split(b"\r\nTo: ", 1)[1].split(b"\r\n", 1)[0]
    assert b"=?utf-8?" in to_line and b"evil" not in to_line  # the name is encoded
    send = db.session.get(Send, send_id)
    assert send.subject and send.body_html and send.max_subscriber_id
    ledger = db.session.execute(
        select(Delivery.subscriber_id, Delivery.status).where(Delivery.send_id == send_id)
    ).all()
    assert sorted(ledger) == sorted(
        [(s.id, DeliveryStatus.SENT) for s in confirmed] + [(suppressed.id, DeliveryStatus.SKIPPED)]
    )


def test_421_is_retried_once_then_delivered(client, api_key, newsletter, smtp):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(3)]
    slow = readers[1]
    smtp.fail_next(421, "4.7.0 Try again later", recipient=slow.email)

    send_id = create(client, api_key, news.slug)
    body = wait_status(client, api_key, send_id, FINAL, timeout=60)

    assert body["status"] == "sent" and body["sent"] == 3 and body["failed"] == 0
    messages = received(smtp, [r.email for r in readers])
    assert sorted(m.recipients[0] for m in messages) == sorted(r.email for r in readers)
    attempts = db.session.scalar(
        select(Delivery.attempts).where(
            Delivery.send_id == send_id, Delivery.subscriber_id == slow.id
        )
    )
    assert attempts == 2


def test_550_fails_the_delivery_bounces_and_suppresses(client, api_key, newsletter, smtp):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(3)]
    gone = readers[0]
    smtp.fail_next(550, "5.1.1 No such user", recipient=gone.email)

    send_id = create(client, api_key, news.slug)
    body = wait_status(client, api_key, send_id, FINAL)

    assert (body["status"], body["sent"], body["failed"]) == ("sent", 2, 1)
    db.session.expire_all()
    status = db.session.scalar(
        select(Subscription.status).where(
            Subscription.subscriber_id == gone.id, Subscription.newsletter_id == news.id
        )
    )
    assert status == SubscriptionStatus.BOUNCED
    suppression = db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppression_hash(gone.email_key))
    )
    assert suppression is not None and suppression.reason == "bounce"
    delivery = db.session.scalar(
        select(Delivery).where(Delivery.send_id == send_id, Delivery.subscriber_id == gone.id)
    )
    assert delivery.status == DeliveryStatus.BOUNCED and "550" in delivery.response
    assert received(smtp, [gone.email]) == []


def test_too_many_failures_in_a_row_pause_the_send(client, api_key, newsletter, smtp):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(30)]
    smtp.fail_next(550, "5.7.1 Relay says no", times=None)
    try:
        send_id = create(client, api_key, news.slug)
        body = wait_status(client, api_key, send_id, {"paused", *FINAL})
    finally:
        smtp.clear()
    assert body["status"] == "paused"
    assert "in a row" in body["status_reason"]
    # 25 in a row pause it; the messages already in flight (2 per connection) still count
    assert 25 <= body["failed"] <= 25 + 2 * SEND_DEFAULTS["SEND_CONNECTIONS"] and body["sent"] == 0
    assert received(smtp, [r.email for r in readers]) == []


def deliveries_stand_still(smtp, addresses: list[str]) -> int:
    """After 1.5 s (a batch's in-flight mail lands), the count of `addresses` received stays
    put for 2 s more; that count."""
    time.sleep(1.5)
    landed = len(received(smtp, addresses))
    time.sleep(2)
    assert len(received(smtp, addresses)) == landed
    return landed


def test_pause_resume_and_cancel_take_effect_within_seconds(client, api_key, newsletter, smtp):
    news = newsletter(rate_limit_per_second=25)
    fresh_article()
    readers = [reader(news) for _ in range(60)]
    addresses = [r.email for r in readers]

    send_id = create(client, api_key, news.slug)
    wait_received(smtp, addresses, 10)
    assert control(client, api_key, send_id, "pause")["status"] == "paused"
    assert deliveries_stand_still(smtp, addresses) < 60
    assert show(client, api_key, send_id)["status"] == "paused"

    assert control(client, api_key, send_id, "resume")["status"] == "sending"
    body = wait_status(client, api_key, send_id, FINAL)
    assert body["status"] == "sent" and body["sent"] == 60
    assert sorted(m.recipients[0] for m in received(smtp, addresses)) == sorted(addresses)

    # cancel: a second newsletter, stopped part-way
    other = newsletter(rate_limit_per_second=25)
    others = [reader(other) for _ in range(60)]
    other_addresses = [r.email for r in others]
    cancel_id = create(client, api_key, other.slug)
    wait_received(smtp, other_addresses, 5)
    assert control(client, api_key, cancel_id, "cancel")["status"] == "cancelled"
    assert deliveries_stand_still(smtp, other_addresses) < 60
    body = show(client, api_key, cancel_id)
    assert body["status"] == "cancelled" and body["finished_at"]
    response = client.post(
        f"/api/v1/sends/{cancel_id}/resume", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 409 and response.get_json()["status"] == "error"


def test_scheduled_send_waits_for_its_time(client, api_key, newsletter, smtp):
    news = newsletter()
    reader(news)
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    send_id = create(client, api_key, news.slug, scheduled_at=later)
    assert scheduling.start_due() >= 0
    body = show(client, api_key, send_id)
    assert body["status"] == "scheduled"
    assert datetime.fromisoformat(body["scheduled_at"]) == datetime.fromisoformat(later)


def test_too_few_new_articles_skip_the_send(client, api_key, newsletter, smtp):
    news = newsletter(min_new_articles=100000)
    reader(news)
    send_id = create(client, api_key, news.slug)
    body = wait_status(client, api_key, send_id, FINAL)
    assert body["status"] == "skipped" and body["sent"] == 0


def test_api_answers_errors_in_the_public_shape(client, api_key, newsletter):
    news = newsletter()
    auth = {"Authorization": f"Bearer {api_key}"}
    assert client.post(f"/api/v1/newsletters/{news.slug}/sends", json={}).status_code == 401
    missing = client.post("/api/v1/newsletters/no-such-thing/sends", json={}, headers=auth)
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    bad = client.post(
        f"/api/v1/newsletters/{news.slug}/sends", json={"scheduled_at": "soon"}, headers=auth
    )
    assert bad.status_code == 422 and bad.get_json()["field"] == "scheduled_at"
    assert client.get("/api/v1/sends/999999999", headers=auth).status_code == 404


def test_two_beats_create_one_send_per_slot(app, newsletter):
    news = newsletter(schedule_cron="0 7 * * *", timezone="Europe/Kyiv")
    news.created_at = utcnow() - timedelta(days=3)
    db.session.commit()
    kyiv = ZoneInfo("Europe/Kyiv")
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(kyiv)
    slot = tomorrow.replace(hour=7, minute=0, second=0, microsecond=0)
    now = (slot + timedelta(minutes=30)).astimezone(UTC)
    news_id = news.id
    results: list[int] = []
    together = threading.Barrier(2)

    def beat():
        with app.app_context():
            together.wait()
            results.append(scheduling.create_cron_sends(now, only=[news_id]))
            db.session.remove()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scheduling.create_cron_sends(now, only=[news.id])

    sends = db.session.scalars(select(Send).where(Send.newsletter_id == news.id)).all()
    assert sorted(results) == [0, 1]
    assert len(sends) == 1
    assert sends[0].scheduled_at == slot.astimezone(UTC)
    assert sends[0].status == SendStatus.SCHEDULED
    # once that send has gone out, the next day's slot is a new send (while it is still
    # scheduled, the slot would be skipped: one active send per newsletter, test_send_once.py)
    sends[0].status, sends[0].finished_at = SendStatus.SENT, utcnow()
    db.session.commit()
    # the next day's slot is a new send; a time long past the slot makes none
    assert scheduling.create_cron_sends(now + timedelta(days=1), only=[news.id]) == 1
    assert scheduling.create_cron_sends(now + timedelta(days=1, hours=5), only=[news.id]) == 0


def test_cli_digest_send_waits_with_a_progress_bar(app, newsletter, smtp):
    news = newsletter()
    fresh_article()
    readers = [reader(news) for _ in range(4)]
    result = app.test_cli_runner().invoke(args=["digest", "send", news.slug, "--wait"])
    assert result.exit_code == 0, result.output
    assert "sent" in result.output and "4/4" in result.output
    assert len(received(smtp, [r.email for r in readers])) == 4
    send_id = db.session.scalar(select(Send.id).where(Send.newsletter_id == news.id))
    listed = app.test_cli_runner().invoke(args=["sends", "list"])
    assert listed.exit_code == 0 and news.slug in listed.output
    shown = app.test_cli_runner().invoke(args=["sends", "show", str(send_id)])
    assert shown.exit_code == 0 and "status: sent" in shown.output


def _bulk_readers(newsletter_id: int, count: int) -> None:
    prefix = uuid.uuid4().hex[:8]
    now = utcnow()
    for start in range(0, count, 5000):
        rows = [
            {
                "email": f"r{prefix}{i}@gmail.com",
                "email_ascii": f"r{prefix}{i}@gmail.com",
                "email_key": f"r{prefix}{i}@gmail.com",
                "smtputf8": False,
                "locale": "en",
                "state_version": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(count, start + 5000))
        ]
        db.session.execute(insert(Subscriber), rows)
    ids = db.session.scalars(
        select(Subscriber.id).where(Subscriber.email_key.like(f"r{prefix}%"))
    ).all()
    db.session.execute(
        insert(Subscription),
        [
            {
                "subscriber_id": i,
                "newsletter_id": newsletter_id,
                "status": "confirmed",
                "created_at": now,
                "updated_at": now,
            }
            for i in ids
        ],
    )
    db.session.commit()


def _plan_peak(count: int) -> tuple[int, int]:
    news = Newsletter(slug=f"mem-{uuid.uuid4().hex[:8]}", name="Memory")
    db.session.add(news)
    db.session.commit()
    _bulk_readers(news.id, count)
    send = Send(newsletter_id=news.id, status=SendStatus.SCHEDULED)
    db.session.add(send)
    db.session.commit()
    send_id = send.id
    db.session.expunge_all()
    tracemalloc.start()
    assert fanout.start_send(send_id)
    fanout.plan_send(send_id)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    batches = db.session.scalar(
        select(func.count()).select_from(SendBatch).where(SendBatch.send_id == send_id)
    )
    assert db.session.get(Send, send_id).total == count
    return peak, batches


def test_fanout_memory_does_not_grow_with_the_list(sqlite_app):
    fresh_article()
    small_peak, small_batches = _plan_peak(3000)
    large_peak, large_batches = _plan_peak(30000)
    assert (small_batches, large_batches) == (10, 100)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)

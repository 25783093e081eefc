"""A reader signs up and confirms, end to end: HTTP, database, outbox, Celery worker, SMTP."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from service import outbox
from service.extensions import db
from service.models import (
    ConsentRecord,
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    utcnow,
)
from tests.conftest import unique_email, wait_for_signups

THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email."


def signup(client, email, newsletters=("daily",), **fields):
    return client.post(
        "/api/v1/subscriptions", json={"email": email, "newsletters": list(newsletters), **fields}
    )


def status_of(client, api_key, email):
    response = client.get(
        "/api/v1/subscribers",
        query_string={"email": email},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200
    found = response.json["subscribers"]
    return {s["newsletter"]: s["status"] for s in found[0]["subscriptions"]} if found else None


def confirm_url(message) -> str:
    text = message.message.get_body(("plain",)).get_content()
    match = re.search(r"(http://\S+/confirm/\S+)", text)
    assert match, text
    return match.group(1)


def wait_for_mail_to(smtp, address, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if address.lower() in [r.lower() for r in message.recipients]:
                return message
        time.sleep(0.05)
    raise AssertionError(f"no email to {address} within {timeout}s")


@pytest.fixture
def daily(newsletter):
    return newsletter()


def test_signup_confirm_end_to_end(client, smtp, api_key, daily, app):
    email = unique_email()
    response = signup(client, email, [daily.slug], name="Olena")
    assert response.status_code == 202
    assert response.json == {"status": "pending", "code": "confirmation_sent", "message": THANKS}
    wait_for_signups()  # the worker applies what the request stored
    assert status_of(client, api_key, email) == {daily.slug: "pending"}

    message = wait_for_mail_to(smtp, email)
    parsed = message.message
    assert parsed.get_content_type() == "multipart/alternative"
    assert {p.get_content_type() for p in parsed.iter_parts()} == {"text/plain", "text/html"}
    assert parsed["Message-ID"] and parsed["Date"]
    [sender] = parsed["From"].addresses
    assert (sender.addr_spec, sender.display_name) == (
        app.config["MAIL_FROM"],
        app.config["PUBLISHER_NAME"],
    )
    assert parsed["To"] == email and "Olena" not in message.data.decode()  # no typed text
    assert daily.name in parsed["Subject"]
    url = confirm_url(message)
    assert url.startswith(app.config["PUBLIC_URL"] + "/confirm/")
    path = url[len(app.config["PUBLIC_URL"]) :]

    # Mail scanners follow links: GET and HEAD must not confirm.
    page = client.get(path)
    assert page.status_code == 200 and b"<form" in page.data
    assert client.head(path).status_code == 200
    assert status_of(client, api_key, email) == {daily.slug: "pending"}

    done = client.post(path)
    assert done.status_code == 200
    assert b"Successfully subscribed" in done.data
    assert status_of(client, api_key, email) == {daily.slug: "confirmed"}
    again = client.post(path)
    assert again.status_code == 200 and b"Successfully subscribed" in again.data


def test_same_answer_and_one_email_for_every_state(client, smtp, api_key, daily):
    email = unique_email()
    first = signup(client, email, [daily.slug])
    wait_for_mail_to(smtp, email)
    pending_again = signup(client, email.upper(), [daily.slug])
    assert first.status_code == pending_again.status_code == 202
    assert first.json == pending_again.json
    path = confirm_url(wait_for_mail_to(smtp, email))[len("http://127.0.0.1:5999") :]
    client.post(path)
    confirmed_again = signup(client, email, [daily.slug])
    assert confirmed_again.status_code == 202 and confirmed_again.json == first.json
    time.sleep(1.0)  # give the worker time to send anything it wrongly queued
    assert (
        len([m for m in smtp.messages if email.lower() in [r.lower() for r in m.recipients]]) == 1
    )
    assert status_of(client, api_key, email) == {daily.slug: "confirmed"}


def test_honeypot_stores_and_sends_nothing(client, smtp, api_key, daily):
    email = unique_email()
    response = signup(client, email, [daily.slug], website="http://spam.example.com")
    assert response.status_code == 202 and response.json["message"] == THANKS
    wait_for_signups()
    assert status_of(client, api_key, email) is None
    assert not any(email in m.recipients for m in smtp.messages)


def test_header_injection_through_the_name(client, smtp, daily):
    email = unique_email()
    name = "Eve\r\nBcc: victim@gmail.com\r\nSubject: pwned <script>"
    assert signup(client, email, [daily.slug], name=name).status_code == 202
    message = wait_for_mail_to(smtp, email)
    assert list(message.recipients) == [email]
    raw_headers = message.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    assert b"\nBcc:" not in raw_headers and b"pwned" not in message.message["Subject"].encode()
    html = message.message.get_body(("html",)).get_content()
    assert "<script>" not in html and b"pwned" not in message.data  # nothing typed is echoed


def test_internationalized_domain_is_sent_as_idna(client, smtp, daily):
    local = unique_email().split("@")[0]
    response = signup(client, f"{local}@пошта.укр", [daily.slug])
    assert response.status_code == 202
    ascii_domain = "пошта.укр".encode("idna").decode()
    assert ascii_domain.startswith("xn--")
    message = wait_for_mail_to(smtp, f"{local}@{ascii_domain}")
    assert list(message.recipients) == [f"{local}@{ascii_domain}"]


def test_form_post_from_browser_gets_a_page_in_its_language(client, smtp, daily, newsletter):
    other = newsletter()
    email = unique_email()
    response = client.post(
        "/api/v1/subscriptions",
        data={"email": email, "newsletters": f"{daily.slug},{other.slug}"},
        headers={
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Language": "uk-UA,uk;q=0.9",
        },
    )
    assert response.status_code == 202
    assert response.mimetype == "text/html"
    assert "Дякуємо за підписку" in response.get_data(as_text=True)
    message = wait_for_mail_to(smtp, email)
    assert daily.name in message.message["Subject"] and other.name in message.message["Subject"]


def test_a_new_address_writes_every_record_of_the_signup(client, app, newsletter, smtp):
    """What one signup leaves behind, on each backend (PostgreSQL writes it in one statement)."""
    first, second = newsletter(), newsletter()
    email = unique_email()
    response = signup(
        client,
        email,
        [first.slug, second.slug],
        name="Olena <b>",
        source_url="https://news.example.org/article",
        form="article-footer",
    )
    assert response.status_code == 202
    wait_for_signups()
    reader = db.session.scalar(db.select(Subscriber).where(Subscriber.email == email))
    assert (reader.name, reader.locale, reader.state_version) == ("Olena <b>", "en", 0)
    subscriptions = db.session.scalars(
        db.select(Subscription).where(Subscription.subscriber_id == reader.id)
    ).all()
    assert sorted((s.newsletter_id, s.status) for s in subscriptions) == [
        (first.id, "pending"),
        (second.id, "pending"),
    ]
    events = db.session.scalars(
        db.select(SubscriptionEvent).where(
            SubscriptionEvent.subscription_id.in_([s.id for s in subscriptions])
        )
    ).all()
    assert (
        sorted((e.from_status, e.to_status, e.cause) for e in events)
        == [(None, "pending", "signup")] * 2
    )
    [consent] = db.session.scalars(
        db.select(ConsentRecord).where(ConsentRecord.subscriber_id == reader.id)
    ).all()
    assert (consent.action, consent.newsletters, consent.source_url, consent.form) == (
        "signup",
        f"{first.slug},{second.slug}",
        "https://news.example.org/article",
        "article-footer",
    )
    assert consent.ip == "127.0.0.1" and consent.user_agent
    # The confirmation job carries the request id of the signup that caused it (logs).
    request_id = response.headers["X-Request-ID"]
    jobs = [
        j
        for j in db.session.scalars(db.select(OutboxJob))
        if j.payload == {"subscriber_id": reader.id, outbox.REQUEST_ID_KEY: request_id}
    ]
    assert [j.task for j in jobs] == ["mail.send_confirmation"]
    # One clock reading, stored so that it reads back as the same aware UTC time everywhere.
    stamps = {reader.created_at, reader.updated_at, consent.created_at, jobs[0].created_at}
    stamps |= {s.created_at for s in subscriptions} | {e.created_at for e in events}
    [stamp] = stamps
    assert stamp.utcoffset() == timedelta(0) and abs(utcnow() - stamp) < timedelta(minutes=1)
    assert jobs[0].available_at - stamp == timedelta(minutes=5)  # left to the hand-over first
    assert smtp.wait_for_recipient(email, timeout=20)  # the job's email goes out

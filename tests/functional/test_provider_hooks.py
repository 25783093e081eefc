"""Provider hooks end to end: each provider's post built with its documented signing scheme.

Valid: the action happens once (the same post again changes nothing). Forged, replayed,
stale or unsigned: 401 or 403, and nothing changes. A hook whose secret is unset: 404.
SNS's signing certificate and subscription confirmation come from a local HTTPS stand-in
with a self-signed certificate (trusted through SSL_CERT_FILE, allowed by SES_CERT_HOSTS).
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.leaving import suppression
from service.models import FeedbackRecord
from tests.support.providers import (
    TOPIC,
    SnsStandIn,
    mailgun_signature,
    postmark_auth,
    sendgrid_headers,
    sendgrid_keys,
    ses_notification,
)
from tests.support.readers import add_reader, statuses

HOOKS = ("/webhooks/ses", "/webhooks/postmark", "/webhooks/sendgrid", "/webhooks/mailgun")


def _events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(FeedbackRecord))


@pytest.fixture(scope="module")
def sns(tmp_path_factory):
    with SnsStandIn(tmp_path_factory.mktemp("sns")) as stand_in:
        yield stand_in


@pytest.fixture
def ses_on(app, sns, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(sns.ca_file))
    monkeypatch.setitem(app.config, "SES_TOPIC_ARNS", TOPIC)
    monkeypatch.setitem(app.config, "SES_CERT_HOSTS", sns.host)
    sns.requests.clear()
    return sns


@pytest.fixture
def sendgrid_key(app, monkeypatch):
    private, public = sendgrid_keys()
    monkeypatch.setitem(app.config, "SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    return private


@pytest.fixture
def mailgun_key(app, monkeypatch):
    key = secrets.token_hex(16)
    monkeypatch.setitem(app.config, "MAILGUN_SIGNING_KEY", key)
    return key


@pytest.fixture
def postmark_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "POSTMARK_WEBHOOK_USER", "postmark")
    monkeypatch.setitem(app.config, "POSTMARK_WEBHOOK_PASSWORD", "s3cret-pw")
    return postmark_auth("postmark", "s3cret-pw")


def test_a_hook_whose_secret_is_unset_does_not_exist(client):
    before = _events()
    for path in HOOKS:
        answer = client.post(path, json={"anything": 1})
        assert answer.status_code == 404, path
        assert answer.get_json()["code"] == "not_found"
    assert _events() == before


def test_postmark_bounce_acts_once_and_bad_credentials_change_nothing(
    client, newsletter, postmark_on
):
    news = newsletter()
    reader = add_reader(news)
    record = {
        "RecordType": "Bounce",
        "ID": int(time.time() * 1000),
        "Type": "SoftBounce",  # Postmark's label; the code in Details says hard
        "Email": reader.email,
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        "BouncedAt": "2026-12-07T07:00:00Z",
    }
    before = _events()
    assert client.post("/webhooks/postmark", json=record).status_code == 401
    wrong = postmark_auth("postmark", "guess")
    assert client.post("/webhooks/postmark", json=record, headers=wrong).status_code == 403
    assert _events() == before and statuses(reader.id) == {news.slug: "confirmed"}

    first = client.post("/webhooks/postmark", json=record, headers=postmark_on)
    again = client.post("/webhooks/postmark", json=record, headers=postmark_on)
    assert first.get_json() == {"received": 1, "recorded": 1}
    assert again.get_json() == {"received": 1, "recorded": 0}
    assert statuses(reader.id) == {news.slug: "bounced"}
    assert suppression.reason(reader.email_key) == "bounce"


def test_sendgrid_signed_batch_acts_once(client, newsletter, sendgrid_key):
    news = newsletter()
    gone, reporter, dropped = add_reader(news), add_reader(news), add_reader(news)
    batch = [
        {"email": gone.email, "event": "bounce", "type": "bounce", "status": "5.1.1",
         "reason": "550 5.1.1 unknown user", "sg_event_id": secrets.token_hex(8),
         "timestamp": int(time.time())},
        {"email": reporter.email, "event": "spamreport", "sg_event_id": secrets.token_hex(8),
         "timestamp": int(time.time())},
        {"email": dropped.email, "event": "dropped", "reason": "Bounced Address",
         "sg_event_id": secrets.token_hex(8), "timestamp": int(time.time())},
        {"email": dropped.email, "event": "delivered", "sg_event_id": secrets.token_hex(8)},
    ]  # fmt: skip
    body = json.dumps(batch).encode()
    headers = sendgrid_headers(sendgrid_key, body)
    first = client.post("/webhooks/sendgrid", data=body, headers=headers)
    again = client.post("/webhooks/sendgrid", data=body, headers=headers)
    assert first.get_json() == {"received": 3, "recorded": 3}
    assert again.get_json() == {"received": 3, "recorded": 0}
    assert statuses(gone.id) == {news.slug: "bounced"}
    assert statuses(reporter.id) == {news.slug: "unsubscribed"}
    assert suppression.reason(reporter.email_key) == "complaint"
    # dropped with no status code: recorded, nobody suppressed on SendGrid's label alone
    assert statuses(dropped.id) == {news.slug: "confirmed"}


def test_sendgrid_forged_stale_tampered_or_unsigned_change_nothing(
    client, newsletter, sendgrid_key
):
    news = newsletter()
    reader = add_reader(news)
    event = {"email": reader.email, "event": "bounce", "status": "5.1.1",
             "sg_event_id": secrets.token_hex(8)}  # fmt: skip
    body = json.dumps([event]).encode()
    other, _ = sendgrid_keys()
    stale = sendgrid_headers(sendgrid_key, body, at=time.time() - 3600)
    future = sendgrid_headers(sendgrid_key, body, at=time.time() + 3600)
    tampered = body.replace(b"5.1.1", b"5.1.2")
    before = _events()
    answers = [
        client.post("/webhooks/sendgrid", data=body, headers=sendgrid_headers(other, body)),
        client.post("/webhooks/sendgrid", data=body, headers=stale),
        client.post("/webhooks/sendgrid", data=body, headers=future),
        client.post("/webhooks/sendgrid", data=tampered, headers=sendgrid_headers(sendgrid_key, body)),
        client.post("/webhooks/sendgrid", data=body, headers={"Content-Type": "application/json"}),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [403, 403, 403, 403, 401]
    assert _events() == before and statuses(reader.id) == {news.slug: "confirmed"}


def _mailgun(key: str, reader, event: str = "failed", **signature) -> dict:
    return {
        "signature": mailgun_signature(key, **signature),
        "event-data": {
            "event": event,
            "id": secrets.token_hex(8),
            "severity": "permanent",
            "recipient": reader.email,
            "timestamp": time.time(),
            "delivery-status": {"code": 550, "message": "5.1.1 mailbox does not exist"},
            "message": {"headers": {"message-id": "unrelated@example.org"}},
        },
    }


def test_mailgun_signed_failure_acts_once_and_a_token_is_never_taken_twice(
    client, newsletter, mailgun_key
):
    news = newsletter()
    reader, other = add_reader(news), add_reader(news)
    post = _mailgun(mailgun_key, reader)
    first = client.post("/webhooks/mailgun", json=post)
    assert first.get_json() == {"received": 1, "recorded": 1}
    assert statuses(reader.id) == {news.slug: "bounced"}
    before = _events()
    replay = client.post("/webhooks/mailgun", json=post)
    assert replay.status_code == 403 and replay.get_json()["code"] == "replayed"
    # the same event under a fresh signature: accepted, recorded nothing new
    resigned = dict(post, signature=mailgun_signature(mailgun_key))
    assert client.post("/webhooks/mailgun", json=resigned).get_json()["recorded"] == 0
    complaint = _mailgun(mailgun_key, other, event="complained")
    bad = [
        _mailgun("not-the-key", other, event="complained"),
        _mailgun(mailgun_key, other, event="complained", at=time.time() - 3600),
        {"event-data": complaint["event-data"]},
    ]
    assert [client.post("/webhooks/mailgun", json=p).status_code for p in bad] == [403, 403, 401]
    assert _events() == before and statuses(other.id) == {news.slug: "confirmed"}
    assert client.post("/webhooks/mailgun", json=complaint).get_json()["recorded"] == 1
    assert statuses(other.id) == {news.slug: "unsubscribed"}


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_notifications_signed_by_sns_act_once(client, newsletter, ses_on, version):
    news = newsletter()
    gone, full, reporter = add_reader(news), add_reader(news), add_reader(news)
    bounce = ses_on.sign(
        ses_notification(
            "Bounce",
            [(gone.email, "5.1.1", "smtp; 550 5.1.1 user unknown"),
             (full.email, "5.2.2", "smtp; 552 5.2.2 mailbox full")],
        ),
        version,
    )  # fmt: skip
    complaint = ses_on.sign(ses_notification("Complaint", [(reporter.email, "", "")]), version)
    assert client.post("/webhooks/ses", json=bounce).get_json() == {"received": 2, "recorded": 2}
    assert client.post("/webhooks/ses", json=bounce).get_json()["recorded"] == 0
    assert client.post("/webhooks/ses", json=complaint).get_json()["recorded"] == 1
    assert statuses(gone.id) == {news.slug: "bounced"}
    assert statuses(full.id) == {news.slug: "confirmed"}  # soft: one is not enough
    assert statuses(reporter.id) == {news.slug: "unsubscribed"}


def test_ses_forged_unsigned_or_off_host_messages_change_nothing(client, newsletter, ses_on):
    news = newsletter()
    reader = add_reader(news)
    message = ses_notification("Bounce", [(reader.email, "5.1.1", "550 5.1.1 unknown")])
    signed = ses_on.sign(message, "2")
    forged = dict(signed, Message=signed["Message"].replace("5.1.1", "5.1.2"))
    other_topic = ses_on.sign(dict(message, TopicArn=TOPIC + "-other"), "2")
    off_host = dict(signed, SigningCertURL="https://sns.attacker.example/cert.pem")
    plain_http = dict(signed, SigningCertURL=f"http://{ses_on.host}/cert.pem")
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    before = _events()
    answers = [
        client.post("/webhooks/ses", json=p).status_code
        for p in (forged, other_topic, off_host, plain_http, unsigned)
    ]
    assert answers == [403, 403, 403, 403, 401]
    assert _events() == before and statuses(reader.id) == {news.slug: "confirmed"}
    assert all(path.startswith("/cert") for path in ses_on.requests)


def test_ses_subscription_is_confirmed_only_for_allowed_topics_and_hosts(client, ses_on):
    def confirmation(topic: str, host: str) -> dict:
        return ses_on.sign(
            {
                "Type": "SubscriptionConfirmation",
                "MessageId": secrets.token_hex(8),
                "Token": "tok",
                "TopicArn": topic,
                "Message": "You have chosen to subscribe to the topic.",
                "SubscribeURL": f"https://{host}/confirm?Token=tok",
                "Timestamp": "2026-12-07T07:00:00.000Z",
            },
            "1",
        )

    assert (
        client.post("/webhooks/ses", json=confirmation(TOPIC + "-x", ses_on.host)).status_code
        == 403
    )
    assert client.post("/webhooks/ses", json=confirmation(TOPIC, "example.org")).status_code == 403
    assert not [p for p in ses_on.requests if p.startswith("/confirm")]
    answer = client.post("/webhooks/ses", json=confirmation(TOPIC, ses_on.host))
    assert answer.status_code == 200 and answer.get_json() == {"confirmed": True}
    assert [p for p in ses_on.requests if p.startswith("/confirm")] == ["/confirm?Token=tok"]


def test_a_body_over_the_limit_is_refused(client, app, postmark_on, monkeypatch):
    monkeypatch.setitem(app.config, "PROVIDER_HOOK_MAX_BYTES", 1024)
    answer = client.post("/webhooks/postmark", data=b"{" + b" " * 4096 + b"}", headers=postmark_on)
    assert answer.status_code == 413


def test_a_large_signed_batch_is_read_whole_past_the_apis_16_kib(client, newsletter, sendgrid_key):
    news = newsletter()
    reader = add_reader(news)
    filler = [
        {"email": f"x{n}@gmail.com", "event": "delivered", "sg_event_id": secrets.token_hex(8)}
        for n in range(600)
    ]
    bounce = {"email": reader.email, "event": "bounce", "status": "5.1.1",
              "sg_event_id": secrets.token_hex(8)}  # fmt: skip
    body = json.dumps([*filler, bounce]).encode()
    assert len(body) > 32 * 1024
    answer = client.post(
        "/webhooks/sendgrid", data=body, headers=sendgrid_headers(sendgrid_key, body)
    )
    assert answer.get_json() == {"received": 1, "recorded": 1}
    assert statuses(reader.id) == {news.slug: "bounced"}

"""A send that pauses itself: complaints posted through a provider hook mid-send (a real
worker, Redis and SMTP relay), and the send's and the newsletter's reports after it.

Settings: 20 messages a second (the send takes about 10 s for 200 readers), the brakes from
20 messages in; the complaint comes once 25 are in, so its rate (1 in 25+, 4%) is past
0.3%. Bounds are generous for a loaded machine: the pause must land before the send ends.
"""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import select

from service.access.keys import create_api_key
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.models import Send, SendStatus, Subscriber
from tests.reliability.sendkit import send_stack
from tests.support.providers import sendgrid_headers, sendgrid_keys


def _send(send_id: int) -> Send:
    db.session.commit()
    return db.session.get(Send, send_id, populate_existing=True)


def test_complaints_mid_send_pause_it_with_the_reason(tmp_path):
    private, public = sendgrid_keys()
    settings = {"BRAKE_MIN_MESSAGES": 20, "SENDGRID_WEBHOOK_PUBLIC_KEY": public}
    with send_stack(tmp_path, **settings) as kit:
        kit.worker()
        news = kit.newsletter("brakes", rate=20)
        addresses = kit.readers(news, 200)
        send_id = kit.start(news)
        deadline = time.monotonic() + 60
        while _send(send_id).sent < 25:
            assert time.monotonic() < deadline, "the send did not get going"
            time.sleep(0.05)
        first = db.session.scalar(
            select(Subscriber).where(Subscriber.email.in_(addresses)).order_by(Subscriber.id)
        )
        complaint = [{"email": first.email, "event": "spamreport", "timestamp": int(time.time()),
                      "sg_event_id": secrets.token_hex(8),
                      "smtp-id": f"<send-{send_id}-{first.id}@news.example.org>"}]  # fmt: skip
        body = json.dumps(complaint).encode()
        client = kit.app.test_client()
        answer = client.post(
            "/webhooks/sendgrid", data=body, headers=sendgrid_headers(private, body)
        )
        assert answer.get_json() == {"received": 1, "recorded": 1}

        deadline = time.monotonic() + 30
        while (send := _send(send_id)).status != SendStatus.PAUSED:
            assert send.status == SendStatus.SENDING, (send.status, send.status_reason)
            assert time.monotonic() < deadline, "the send did not pause itself"
            time.sleep(0.05)
        assert send.status_reason.startswith("brakes: complaint rate ")
        assert "passed 0.3%" in send.status_reason
        time.sleep(1.0)  # batches stop within a window of messages
        stopped = len(kit.received(addresses))
        time.sleep(1.0)
        assert len(kit.received(addresses)) == stopped < 200

        runner = kit.app.test_cli_runner()
        shown = runner.invoke(args=["sends", "show", str(send_id)])
        assert shown.exit_code == 0, shown.output
        assert "paused_reason: brakes: complaint rate" in shown.output
        assert "complained: 1" in shown.output


def test_reports_count_each_reader_once_per_send(tmp_path):
    with send_stack(tmp_path) as kit:
        kit.worker()
        news = kit.newsletter("reports", rate=100)
        addresses = kit.readers(news, 20)
        send_id = kit.start(news)
        assert kit.wait_final(send_id).status == SendStatus.SENT
        readers = db.session.scalars(
            select(Subscriber).where(Subscriber.email.in_(addresses)).order_by(Subscriber.id)
        ).all()
        domain = "news.example.org"

        def about(reader, **fields) -> FeedbackEvent:
            mid = f"<send-{send_id}-{reader.id}@{domain}>"
            return FeedbackEvent(message_id=mid, **{"source": "ses", "kind": "bounce"} | fields)

        # a possible duplicate's two copies both bounce: one reader, one hard bounce
        record_feedback(about(readers[0], provider_event_id="a1", status="5.1.1"))
        record_feedback(about(readers[0], provider_event_id="a2", status="5.1.1"))
        record_feedback(about(readers[1], provider_event_id="b", status="4.2.2"))
        record_feedback(about(readers[2], provider_event_id="c", status="5.7.1"))
        record_feedback(about(readers[3], provider_event_id="d", kind="complaint"))
        client = kit.app.test_client()
        key = create_api_key(f"report-{secrets.token_hex(3)}")
        auth = {"Authorization": f"Bearer {key}"}
        body = client.get(f"/api/v1/sends/{send_id}", headers=auth).get_json()
        assert (body["sent"], body["delivered"]) == (20, 17)
        assert (body["bounced_hard"], body["bounced_soft"], body["refused_policy"]) == (1, 1, 1)
        assert (body["complained"], body["unsubscribed"]) == (1, 1)
        assert body["rates"]["bounced_hard"] == 0.05 and body["rates"]["complained"] == 0.05
        assert body["warning"] == "complaint rate 5% is above 0.1%"
        assert body["paused_reason"] is None
        report = client.get(f"/api/v1/newsletters/{news.slug}/report", headers=auth).get_json()
        assert report["sends"] == 1 and report["bounced_hard"] == 1 and report["delivered"] == 17
        assert (
            client.get(f"/api/v1/newsletters/{news.slug}/report?from=x", headers=auth).status_code
            == 422
        )
        later = client.get(f"/api/v1/newsletters/{news.slug}/report?from=2999-01-01", headers=auth)
        assert later.get_json()["sends"] == 0
        shown = kit.app.test_cli_runner().invoke(args=["newsletters", "report", news.slug])
        assert shown.exit_code == 0, shown.output
        assert "bounced_hard: 1 (5.00%)" in shown.output

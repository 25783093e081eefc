"""A reader whose message cannot be built, and a batch that keeps failing: neither loops.

Before: the exception left the batch `running`, the watchdog re-dispatched it every lease,
and everyone earlier in the batch got a copy each time. Now the one message fails alone
(its reason in the ledger) and a batch that fails again and again is parked as `failed`,
shown by the API and `sends show`; the rest of the send goes on and the send ends.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from service.access.keys import create_api_key
from service.extensions import db
from service.models import Delivery, DeliveryStatus, SendBatch
from tests.reliability.sendkit import send_stack
from tests.support.readers import add_reader

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_message_that_cannot_be_built_fails_alone(tmp_path, backend):
    with send_stack(tmp_path, backend) as kit:
        news = kit.newsletter("bad-reader")
        before = kit.readers(news, 10)
        # A line break in the stored address: no message can be built for it, ever.
        bad = add_reader(news, email="broken\r\nbcc: someone@example.net")
        after = kit.readers(news, 25)
        good = before | after
        kit.worker()
        send_id = kit.start(news)
        send = kit.wait_final(send_id, timeout=30, tick=False)  # no watchdog needed

        assert send.status == "sent"
        counts = kit.received(good)
        assert set(counts) == good and set(counts.values()) == {1}  # each exactly once
        assert len(kit.smtp.messages) == len(good)  # and nothing to the broken address
        row = db.session.scalar(
            select(Delivery).where(Delivery.send_id == send_id, Delivery.subscriber_id == bad.id)
        )
        assert row.status == DeliveryStatus.FAILED
        assert "could not be built" in row.response and "not a plain address" in row.response
        assert (send.sent, send.failed, send.total) == (len(good), 1, len(good) + 1)
        assert kit.batch_attempts(send_id) == 2  # two batches, each run once


def test_a_batch_that_keeps_failing_is_parked_and_the_send_ends_failed(tmp_path):
    with send_stack(tmp_path, "sqlite") as kit:
        news = kit.newsletter("parked")
        first = kit.readers(news, 20)
        bad = add_reader(news, email="undecodable@example.org")
        second = kit.readers(news, 19)
        third = kit.readers(news, 20)
        # A row whose text is not UTF-8 (an old import): reading the batch fails every time.
        db.session.execute(
            text("UPDATE subscribers SET name = CAST(x'ff' AS TEXT) WHERE id = :id"),
            {"id": bad.id},
        )
        db.session.commit()
        kit.worker()
        send_id = kit.start(news)
        send = kit.wait_final(send_id, timeout=40)  # beat's watchdog runs too: no loop

        assert send.status == "failed" and "batch failed" in send.status_reason
        counts = kit.received(first | second | third)
        assert set(counts) == first | third and set(counts.values()) == {1}
        parked = db.session.scalars(
            select(SendBatch).where(SendBatch.send_id == send_id, SendBatch.status == "failed")
        ).all()
        assert len(parked) == 1 and parked[0].failures == 3 and parked[0].attempts == 3
        assert "decode" in parked[0].error
        # and its 20 readers are not missed silently: each has a failed row saying why
        assert (send.sent, send.failed) == (40, 20)
        reasons = db.session.scalars(
            select(Delivery.response).where(
                Delivery.send_id == send_id, Delivery.status == DeliveryStatus.FAILED
            )
        ).all()
        assert len(reasons) == 20 and all("batch was parked" in r for r in reasons)

        key = create_api_key("parked-test")
        body = (
            kit.app.test_client()
            .get(f"/api/v1/sends/{send_id}", headers={"Authorization": f"Bearer {key}"})
            .get_json()
        )
        assert body["status"] == "failed" and body["sent"] == 40
        [shown] = body["failed_batches"]
        assert shown["id"] == parked[0].id and "decode" in shown["error"]
        result = kit.app.test_cli_runner().invoke(args=["sends", "show", str(send_id)])
        assert result.exit_code == 0, result.output
        assert f"failed batch: {parked[0].id}" in result.output and "decode" in result.output

"""A relay down past the retry deadline: every reader still ends with a ledger row.

Before: a batch whose relay deferred everything stopped early (the rest was to wait for the
retry) and, past `SEND_RETRY_DEADLINE_SECONDS`, failed only the readers it had tried; the
readers it never reached got no row at all and were missed without a word. Now each of
them fails in the ledger with the reason, counted like every other row.
"""

from __future__ import annotations

import pytest

from service.access.keys import create_api_key
from service.extensions import db
from service.models import Delivery
from service.sending.batches import NOT_TRIED
from tests.reliability.sendkit import send_stack

pytestmark = pytest.mark.timeout(120)

READERS = 60  # three batches of 20


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_readers_never_tried_before_the_deadline_fail_with_a_reason(tmp_path, backend):
    settings = {"SEND_RETRY_DEADLINE_SECONDS": 2, "SEND_MAX_CONSECUTIVE_FAILURES": 3}
    with send_stack(tmp_path, backend, **settings) as kit:
        news = kit.newsletter("relay-gone")
        addresses = kit.readers(news, READERS)
        kit.smtp.stop()  # nothing listens on the relay's port: every connection is refused
        kit.worker()
        send_id = kit.start(news)
        send = kit.wait_final(send_id, timeout=40)

        assert not kit.received(addresses)
        rows = db.session.execute(
            db.select(Delivery.status, Delivery.response).where(Delivery.send_id == send_id)
        ).all()
        assert len(rows) == READERS  # one row for every reader: nobody missed silently
        assert {status for status, _ in rows} == {"failed"}
        never_tried = [r for _, r in rows if r.startswith(NOT_TRIED)]
        assert never_tried, "the batches stopped early: some readers were never tried"
        assert all("last answer" in r and "refused" in r.lower() for r in never_tried)
        tried = [r for _, r in rows if not r.startswith(NOT_TRIED)]
        assert tried and all("refused" in r.lower() for r in tried)

        assert send.status == "sent"  # ended, with every reader accounted for
        counters, ledger = kit.books(send_id)
        assert counters == ledger == (0, READERS, 0)
        key = create_api_key("nobody-missed")
        body = (
            kit.app.test_client()
            .get(f"/api/v1/sends/{send_id}", headers={"Authorization": f"Bearer {key}"})
            .get_json()
        )
        assert (body["sent"], body["failed"], body["total"]) == (0, READERS, READERS)
        print(
            f"relay refusing past the deadline: {len(never_tried)} never tried, all in the ledger"
        )

"""Counters are the ledger's, always; a second worker frozen past its lease misses nobody."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import select

from service.extensions import db
from service.models import Send
from service.sending import lifecycle
from tests.reliability.sendkit import IN_FLIGHT, send_stack

pytestmark = pytest.mark.timeout(120)


@pytest.mark.xfail(
    strict=True,
    reason="open: mid-send the counters run ~2 ahead of the ledger rows (cause not found yet)",
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_counters_equal_the_ledger_while_sending_and_after_a_cancel(tmp_path, backend):
    with send_stack(tmp_path, backend) as kit:
        news = kit.newsletter("counters", rate=150)
        addresses = kit.readers(news, 300)
        kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 40)
        for _ in range(10):  # while batches write: every committed state agrees
            send = db.session.get(Send, send_id, populate_existing=True)
            ledger = kit.ledger(send_id)
            db.session.commit()
            assert send.sent <= ledger["sent"], (send.sent, ledger)  # read first: ledger grew
            time.sleep(0.1)
        lifecycle.cancel_send(send_id)
        time.sleep(4)  # batches still running stop within a second and write what came back
        db.session.commit()
        send = db.session.get(Send, send_id, populate_existing=True)
        ledger = kit.ledger(send_id)
        delivered = sum(kit.received(addresses).values())
        assert send.status == "cancelled" and 0 < send.sent < len(addresses)
        assert (send.sent, send.failed, send.skipped) == (ledger["sent"], 0, 0)
        assert send.sent == delivered  # and the relay holds exactly that many


def test_a_second_worker_frozen_past_its_lease_misses_nobody(tmp_path):
    """Another host cut off mid-send (its process group SIGSTOPped past the lease)."""
    with send_stack(tmp_path) as kit:
        news = kit.newsletter("two-hosts", rate=60)
        addresses = kit.readers(news, 200)
        first = kit.worker("worker-1")
        second = kit.worker("worker-2")
        stopped = False
        try:
            send_id = kit.start(news)
            kit.wait_received(addresses, 40)
            os.kill(second.pid, signal.SIGSTOP)
            stopped = True
            frozen_at = sum(kit.received(addresses).values())
            send = kit.wait_final(send_id, timeout=60)  # the watchdog hands its batches on
            assert send.status == "sent" and first.poll() is None
            counts = kit.received(addresses)
            assert set(counts) == addresses  # nobody missed
            duplicates = sum(counts.values()) - len(addresses)
            assert duplicates <= IN_FLIGHT, duplicates
            assert frozen_at < len(addresses)
            print(f"second worker frozen mid-send: {duplicates} duplicates")
        finally:
            if stopped:
                os.kill(second.pid, signal.SIGCONT)
        # thawed, it finds its leases taken: nothing more is sent
        time.sleep(3)
        assert sum(kit.received(addresses).values()) - len(addresses) <= IN_FLIGHT
        assert db.session.scalar(select(Send.status).where(Send.id == send_id)) == "sent"

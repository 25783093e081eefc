"""Counters are the ledger's, always; a second worker frozen past its lease misses nobody."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import select

from service.auth import create_api_key
from service.extensions import db
from service.models import Send
from service.sending import lifecycle
from service.sending.watchdog import watchdog
from tests.reliability.sendkit import IN_FLIGHT, send_stack

pytestmark = pytest.mark.timeout(120)


def _agree_for(kit, send_id: int, seconds: float, seen: set) -> None:
    """Read counters and ledger in one snapshot every 20 ms for `seconds`: always equal."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counters, ledger = kit.books(send_id)
        assert counters == ledger, (counters, ledger)
        seen.add(counters)
        time.sleep(0.02)


def _shown(kit, send_id: int) -> tuple[tuple[int, int, int], str]:
    """The counters as the API gives them, and `sends show`'s output."""
    key = create_api_key(f"counters-{send_id}-{time.monotonic()}")
    body = (
        kit.app.test_client()
        .get(f"/api/v1/sends/{send_id}", headers={"Authorization": f"Bearer {key}"})
        .get_json()
    )
    shown = kit.app.test_cli_runner().invoke(args=["sends", "show", str(send_id)])
    assert shown.exit_code == 0, shown.output
    return (body["sent"], body["failed"], body["skipped"]), shown.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_counters_equal_the_ledger_while_sending_and_after_a_cancel(tmp_path, backend):
    with send_stack(tmp_path, backend) as kit:
        news = kit.newsletter("counters", rate=100)
        addresses = kit.readers(news, 400)
        kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 40)
        seen: set = set()
        _agree_for(kit, send_id, 1.5, seen)  # while four batches write side by side
        assert len(seen) >= 5, seen  # it really was read mid-send
        lifecycle.cancel_send(send_id)
        _agree_for(kit, send_id, 3, seen)  # running batches stop within a second
        counters, ledger = kit.books(send_id)
        delivered = sum(kit.received(addresses).values())
        assert db.session.scalar(select(Send.status).where(Send.id == send_id)) == "cancelled"
        assert 0 < delivered < len(addresses)
        assert counters == ledger == (delivered, 0, 0)  # and the relay holds that many
        api, show = _shown(kit, send_id)
        assert api == counters
        assert f"sent {delivered}, failed 0, skipped 0" in show


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_counters_equal_the_ledger_through_pause_resume_and_a_killed_worker(tmp_path, backend):
    with send_stack(tmp_path, backend) as kit:
        news = kit.newsletter("counters-rerun", rate=60)
        addresses = kit.readers(news, 300)
        first = kit.worker("worker-1")
        send_id = kit.start(news)
        kit.wait_received(addresses, 30)
        seen: set = set()
        lifecycle.pause_send(send_id)
        _agree_for(kit, send_id, 2, seen)  # batches stop and write what came back
        paused_at = sum(kit.received(addresses).values())
        assert kit.books(send_id)[0] == (paused_at, 0, 0)
        lifecycle.resume_send(send_id)
        kit.wait_received(addresses, paused_at + 40)
        os.kill(first.pid, signal.SIGKILL)  # mid-batch: its batches are re-run elsewhere
        first.wait(10)
        assert sum(kit.received(addresses).values()) < len(addresses)
        kit.worker("worker-2")
        deadline = time.monotonic() + 60
        while db.session.scalar(select(Send.status).where(Send.id == send_id)) == "sending":
            assert time.monotonic() < deadline, "send stuck"
            watchdog()  # beat's tick: re-dispatch the dead worker's batches
            _agree_for(kit, send_id, 0.3, seen)
        counts = kit.received(addresses)
        assert set(counts) == addresses
        assert sum(counts.values()) - len(addresses) <= IN_FLIGHT
        counters, ledger = kit.books(send_id)
        assert counters == ledger == (len(addresses), 0, 0)
        assert _shown(kit, send_id)[0] == counters


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

"""Counters are the ledger's, always; a second host cut off mid-send misses nobody."""

from __future__ import annotations

import os
import re
import signal
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from service.access.keys import create_api_key
from service.extensions import db
from service.models import Send, SendBatch
from service.sending import lifecycle
from service.sending.watchdog import watchdog
from tests.reliability.netns import other_host
from tests.reliability.sendkit import IN_FLIGHT, send_stack

pytestmark = pytest.mark.timeout(200)


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
        _agree_for(kit, send_id, 3, seen)  # running batches stopped before the answer
        counters, ledger = kit.books(send_id)
        delivered = sum(kit.received(addresses).values())
        assert db.session.scalar(select(Send.status).where(Send.id == send_id)) == "cancelled"
        assert 0 < delivered < len(addresses)
        # The relay holds that many; every reader never reached is skipped, in the ledger.
        unreached = len(addresses) - delivered
        assert counters == ledger == (delivered, 0, unreached)
        api, show = _shown(kit, send_id)
        assert api == counters
        assert f"sent {delivered}, failed 0, skipped {unreached}" in show


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
            watchdog()  # beat's tick: re-publish the dead worker's batches
            _agree_for(kit, send_id, 0.3, seen)
        counts = kit.received(addresses)
        assert set(counts) == addresses
        assert sum(counts.values()) - len(addresses) <= IN_FLIGHT
        counters, ledger = kit.books(send_id)
        assert counters == ledger == (len(addresses), 0, 0)
        assert _shown(kit, send_id)[0] == counters


def _as_seen_from(host, kit) -> dict[str, str]:
    """The stack's URLs for a worker on `host`: each server through a forwarder on its link."""
    env = {}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "MAIL_URL"):
        url = urlsplit(kit.env[name])
        forwarder = host.forwarders.get(url.port) or host.forward(url.port)
        netloc = url.netloc.replace(f"127.0.0.1:{url.port}", f"{host.address}:{forwarder.port}")
        env[name] = urlunsplit(url._replace(netloc=netloc))
    return env


def _tasks_done(log: str) -> bool:
    """Has the worker ended every batch task it received (Celery's own log lines)?"""
    received = len(re.findall(r"Task sending\.batch\[[-\w]+\] received", log))
    ended = len(re.findall(r"Task sending\.batch\[[-\w]+\] (succeeded|retry|raised)", log))
    return received > 0 and ended >= received


def _reclaimed(send_id: int) -> bool:
    """Has a batch of the send been claimed a second time (handed on by the watchdog)?"""
    db.session.commit()
    found = db.session.scalar(
        select(SendBatch.id).where(SendBatch.send_id == send_id, SendBatch.attempts > 1).limit(1)
    )
    db.session.commit()
    return found is not None


@pytest.mark.parametrize("back", ["after-the-send", "mid-send"])
def test_a_second_host_cut_off_mid_send_misses_nobody_and_resends_nothing(tmp_path, back):
    """The second worker runs on another host (a network namespace); its link goes down.

    Past its lease the first worker takes its batches over and ends the send; the link
    comes back after the send, or while the first worker still sends the batches it took
    over: either way the second host stops at its next check and re-sends nothing.
    """
    # A host cut off between a statement and its COMMIT keeps that row locked until the server
    # ends its silent transaction: 10 s here (60 by default), well inside the wait below.
    cut_off = {"DATABASE_IDLE_TRANSACTION_SECONDS": 10}
    with other_host() as host, send_stack(tmp_path, "postgresql", **cut_off) as kit:
        env = _as_seen_from(host, kit)
        assert "default" not in host.inside("ip", "route")  # its traffic stays on the link
        relay = host.forwarders[kit.smtp.port]
        news = kit.newsletter("two-hosts", rate=40 if back == "after-the-send" else 20)
        addresses = kit.readers(news, 200)
        first = kit.worker("worker-1")
        kit.worker("worker-2", prefix=tuple(host.command()), **env)
        send_id = kit.start(news)
        kit.wait_received(addresses, 40)
        mailing = relay.bytes_in
        deadline = time.monotonic() + 20
        while relay.bytes_in == mailing:  # cut it off while it is handing mail to the relay
            assert time.monotonic() < deadline, "the second host never sent: " + kit.log("worker-2")
            time.sleep(0.01)
        host.cut()
        assert sum(kit.received(addresses).values()) < len(addresses)
        if back == "mid-send":
            deadline = time.monotonic() + 20
            while not _reclaimed(send_id):
                assert time.monotonic() < deadline, "nobody took the cut-off host's batches"
                watchdog()  # beat's tick: past the lease, its batches are handed on
                time.sleep(0.3)
            host.mend()
            assert db.session.scalar(select(Send.status).where(Send.id == send_id)) == "sending"

        send = kit.wait_final(send_id, timeout=75)
        assert send.status == "sent" and first.poll() is None
        counts = kit.received(addresses)
        assert set(counts) == addresses  # nobody missed
        duplicates = sum(counts.values()) - len(addresses)
        assert duplicates <= IN_FLIGHT, duplicates
        books = kit.books(send_id)
        assert books == ((len(addresses), 0, 0),) * 2

        if back == "after-the-send":
            host.mend()
        deadline = time.monotonic() + 30
        while not _tasks_done(kit.log("worker-2")):  # it is back and ended its batches
            assert time.monotonic() < deadline, "the second host's batches never ended"
            time.sleep(0.2)
        time.sleep(1)
        after = sum(kit.received(addresses).values()) - len(addresses)
        assert after <= IN_FLIGHT, after  # at most what it had in flight at the cut
        assert kit.books(send_id) == books  # the ledger holds every reader once
        assert db.session.scalar(select(Send.status).where(Send.id == send_id)) == "sent"
        assert "another worker holds it now" in kit.log("worker-2")  # it came back, stopped
        print(f"second host back {back}: {duplicates} duplicates at the end, {after} in all")

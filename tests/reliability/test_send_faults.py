"""Faults injected mid-send: the database, the relay and the broker go away and come back.

Every test judges on the SMTP server's own count: every confirmed reader got the digest,
duplicates at most the messages in flight when the fault hit, and the send ended.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from service.access.keys import create_api_key
from service.extensions import db
from tests.reliability.sendkit import IN_FLIGHT, kill_database_sessions, send_stack

pytestmark = pytest.mark.timeout(120)

READERS = 200


def _assert_everyone_once(kit, send, addresses, duplicates_allowed: int) -> int:
    counts = kit.received(addresses)
    assert set(counts) == addresses, f"{len(addresses - set(counts))} readers missed"
    duplicates = sum(counts.values()) - len(addresses)
    assert duplicates <= duplicates_allowed
    assert send.status == "sent"
    assert kit.ledger(send.id) == {"sent": len(addresses)}
    assert (send.sent, send.failed, send.total) == (len(addresses), 0, len(addresses))
    assert duplicates <= send.possible_duplicates <= 2 * IN_FLIGHT  # counted, and bounded
    return duplicates


def _trouble_is_visible(kit, send_id: int, why: str) -> None:
    """A deferring send says why and how many wait: the API, `sends show` and the log."""
    key = create_api_key(f"trouble-{send_id}-{time.monotonic()}")
    deadline = time.monotonic() + 20  # the first answers may wait for a connection's timeout
    while True:
        body = (
            kit.app.test_client()
            .get(f"/api/v1/sends/{send_id}", headers={"Authorization": f"Bearer {key}"})
            .get_json()
        )
        if body["defer_reason"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["status"] == "sending"
    assert body["waiting"] == body["total"] - body["sent"] - body["failed"] - body["skipped"] > 0
    assert why in body["defer_reason"], body
    shown = kit.app.test_cli_runner().invoke(args=["sends", "show", str(send_id)])
    assert f"waiting: {body['waiting']}" in shown.output
    assert f"defer_reason: {why}" in shown.output  # its latest answer: may be another by now
    deferred = [line for line in kit.log().splitlines() if "deferred, retry in" in line]
    assert deferred and why in deferred[-1], deferred[-3:]
    print(f"while deferring: {body['waiting']} waiting, because {body['defer_reason']!r}")


def test_database_connections_terminated_mid_send(tmp_path):
    with send_stack(tmp_path, "postgresql") as kit:
        news = kit.newsletter("pg-drop", rate=80)
        addresses = kit.readers(news, READERS)
        kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 50)
        db.session.remove()  # this test's own connection back to the pool ...
        assert kill_database_sessions(kit.app.config["SQLALCHEMY_DATABASE_URI"]) >= 1
        db.engine.dispose()  # ... where it died: the test reads on fresh ones
        at_kill = sum(kit.received(addresses).values())
        assert at_kill < READERS, "the send finished before the fault: make it slower"
        # No watchdog: the batches themselves must survive, on fresh connections.
        send = kit.wait_final(send_id, timeout=40, tick=False)
        duplicates = _assert_everyone_once(kit, send, addresses, IN_FLIGHT)
        print(
            f"pg_terminate_backend mid-send: {duplicates} duplicates,"
            f" {send.possible_duplicates} reported possible"
        )
        assert "PendingRollbackError" not in kit.log()


def test_relay_refusing_connections_for_a_while(tmp_path):
    with send_stack(tmp_path) as kit:
        news = kit.newsletter("relay-down", rate=80)
        addresses = kit.readers(news, READERS)
        kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 50)
        kit.smtp.stop()  # nothing listens on the port: connections are refused
        time.sleep(5)
        assert sum(kit.received(addresses).values()) < READERS
        # The connection error: refused, or closed at once while the relay shuts down.
        _trouble_is_visible(kit, send_id, f"no SMTP session with 127.0.0.1:{kit.smtp.port}")
        kit.smtp.start()  # back on the same port
        send = kit.wait_final(send_id, timeout=60)
        duplicates = _assert_everyone_once(kit, send, addresses, IN_FLIGHT)
        print(f"relay down 5 s mid-send: {duplicates} duplicates")


def test_relay_answering_421_to_everything_for_a_while(tmp_path):
    with send_stack(tmp_path) as kit:
        news = kit.newsletter("relay-421", rate=80)
        addresses = kit.readers(news, READERS)
        kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 50)
        kit.smtp.fail_next(421, "4.3.2 Try again later", times=None, on="MAIL")
        time.sleep(5)
        kit.smtp.clear_failures()
        send = kit.wait_final(send_id, timeout=60)
        duplicates = _assert_everyone_once(kit, send, addresses, 0)  # a 421: nothing accepted
        print(f"421 for 5 s mid-send: {duplicates} duplicates")


def test_broker_killed_and_restarted_mid_send(tmp_path):
    with send_stack(tmp_path) as kit:
        news = kit.newsletter("broker-down", rate=80)
        addresses = kit.readers(news, READERS)
        worker = kit.worker()
        send_id = kit.start(news)
        kit.wait_received(addresses, 50)
        port = kit.redis.port
        os.kill(kit.redis.process.pid, signal.SIGKILL)
        kit.redis.process.wait(10)
        time.sleep(3)
        kit.redis.process = None
        kit.redis.port = port
        kit.redis.start()  # an empty Redis on the same port: the queue is gone too
        send = kit.wait_final(send_id, timeout=60)  # the watchdog re-publishes what was lost
        assert worker.poll() is None, kit.log()[-3000:]
        assert "Unrecoverable error" not in kit.log()
        duplicates = _assert_everyone_once(kit, send, addresses, IN_FLIGHT)
        print(f"Redis killed mid-send: {duplicates} duplicates")
        # and the worker still consumes: a second send goes through
        other = kit.newsletter("broker-down-2")
        more = kit.readers(other, 5)
        assert kit.wait_final(kit.start(other), timeout=30, tick=False).status == "sent"
        assert set(kit.received(more).values()) == {1}

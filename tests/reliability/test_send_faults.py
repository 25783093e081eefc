"""Faults injected mid-send: the database, the relay and the broker go away and come back.

Every test judges on the SMTP server's own count: every confirmed reader got the digest,
duplicates at most the messages in flight when the fault hit, and the send ended.

The drills (`DRILL` in their output) run the production configuration: PostgreSQL (behind
a `TCPGate` the test shuts), Redis as broker and rate-limit store, two workers, beat and the
service's default sending settings; each reports the duplicates the relay received, those
the service reported, and the seconds from the fault clearing to the next delivery, and
fails above `RESUME_BOUND` (see `sendkit`). The README's runbook table comes from them:
    .venv/bin/pytest tests/reliability -k drill -s -q | grep DRILL
"""

from __future__ import annotations

import re
import time

import pytest

from service.access.keys import create_api_key
from service.extensions import db
from tests.reliability.sendkit import (
    IN_FLIGHT,
    RESUME_BOUND,
    judge,
    kill_database_sessions,
    send_stack,
)

pytestmark = pytest.mark.timeout(120)

READERS = 200
DRILL_READERS = 1000  # at 100 a second: 10 s of sending around the fault


def _send(kit, slug: str) -> tuple[set[str], int]:
    """A send to `DRILL_READERS` at 100/s, 200 of them delivered."""
    news = kit.newsletter(slug, rate=100)
    addresses = kit.readers(news, DRILL_READERS)
    send_id = kit.start(news)
    kit.wait_received(addresses, 200, timeout=60)
    return addresses, send_id


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


def _trouble_is_visible(kit, send_id: int, why: str, logs: str = "worker") -> None:
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
    text = "".join(p.read_text(errors="replace") for p in sorted(kit.tmp.glob(f"{logs}.log")))
    deferred = [line for line in text.splitlines() if "deferred, retry in" in line]
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


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """One production stack for the drills below (each leaves it whole): PostgreSQL behind a
    gate, Redis, two workers and beat; sharing it saves each drill half a minute of start."""
    with send_stack(
        tmp_path_factory.mktemp("drills"), "postgresql", gate=True, defaults=True
    ) as kit:
        kit.start_workers("worker-1", "worker-2")
        kit.beat()
        yield kit


def test_drill_database_refusing_connections_for_20_s(production):
    kit = production
    addresses, send_id = _send(kit, "db-away")
    kit.gate.shut()  # every worker connection cut, new ones refused
    shut = time.monotonic()
    time.sleep(2)  # the answers of what was in flight come back
    stalled = kit.total(addresses)
    time.sleep(18)
    # A batch hands nothing over while its answers cannot be written.
    late = [m.received_at - shut for m in kit.smtp.messages if m.received_at > shut + 2]
    assert kit.total(addresses) == stalled < DRILL_READERS, late
    kit.gate.open()
    resume = kit.seconds_to_next(addresses, time.monotonic())
    send = kit.wait_final(send_id, timeout=60, tick=False)  # beat and the workers only
    judge(kit, send, addresses, "database refusing connections 20 s", resume)
    assert resume <= RESUME_BOUND
    assert not re.search(r"batch \d+ failed", kit.log("worker-1") + kit.log("worker-2"))


def test_drill_relay_refusing_connections_for_20_s(production):
    kit = production
    addresses, send_id = _send(kit, "relay-down")
    kit.smtp.stop()  # nothing listens on the port: connections are refused
    stopped = time.monotonic()
    time.sleep(5)
    assert kit.total(addresses) < DRILL_READERS
    # The connection error: refused, or closed at once while the relay shuts down.
    _trouble_is_visible(kit, send_id, f"no SMTP session with 127.0.0.1:{kit.smtp.port}", "worker-*")
    time.sleep(max(0.0, stopped + 20 - time.monotonic()))
    kit.smtp.start()  # back on the same port
    resume = kit.seconds_to_next(addresses, time.monotonic())
    send = kit.wait_final(send_id, timeout=60, tick=False)
    judge(kit, send, addresses, "relay refusing connections 20 s", resume)
    assert resume <= RESUME_BOUND


def test_drill_redis_stopped_and_started(production):
    kit = production
    addresses, send_id = _send(kit, "redis-away")
    port = kit.redis.port
    kit.redis.stop()  # the broker and the rate limit's store, with every queued batch
    time.sleep(5)
    kit.redis.port = port
    kit.redis.start()  # an empty Redis on the same port: the queue is gone too
    resume = kit.seconds_to_next(addresses, time.monotonic())
    send = kit.wait_final(send_id, timeout=60, tick=False)
    assert all(w.poll() is None for w in kit.workers), kit.log("worker-1")[-3000:]
    judge(kit, send, addresses, "Redis stopped 5 s and started empty", resume)
    assert resume <= RESUME_BOUND
    # and the workers still consume: a second send goes through
    other = kit.newsletter("redis-away-2")
    more = kit.readers(other, 5)
    assert kit.wait_final(kit.start(other), timeout=30, tick=False).status == "sent"
    assert set(kit.received(more).values()) == {1}

"""A worker SIGKILLed mid-send: its peer notices within seconds and finishes, nobody missed.

The production configuration (PostgreSQL, Redis, two workers, beat, default sending
settings but batches of 100, so each worker has batches running). Nobody calls the
watchdog from the test: the surviving worker's lease keeper does. The drill reports the
seconds from the kill to the first delivery of a batch the dead worker held (its lease runs
out in `SEND_LEASE_SECONDS`, then the watchdog confirms it a quarter lease later) and fails
above `TAKEOVER_BOUND`.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import select

from service.extensions import db
from service.models import BatchStatus, SendBatch, Subscriber
from tests.reliability.sendkit import ONE_WORKER_BOUND, TAKEOVER_BOUND, judge, send_stack

pytestmark = pytest.mark.timeout(150)

READERS = 1000


def _taken_over(kit, send_id: int, held: dict[int, int], killed_at: float) -> float:
    """Seconds from the kill to the first message, received after it, to a reader of a
    batch claimed again since (those the dead worker held)."""
    ids = dict(db.session.execute(select(Subscriber.email, Subscriber.id)).all())
    while True:
        db.session.commit()
        again = [
            (b.after_id, b.upto_id)
            for b in db.session.scalars(select(SendBatch).where(SendBatch.send_id == send_id))
            if b.id in held and b.attempts > held[b.id]
        ]
        for message in kit.smtp.messages:
            # Later than what the dead worker had on the wire: the new claim's.
            if message.received_at > killed_at + 0.5 and any(
                low < ids.get(message.recipients[0], 0) <= high for low, high in again
            ):
                return message.received_at - killed_at
        assert time.monotonic() - killed_at < 60, kit.stuck_report(send_id)
        time.sleep(0.05)


def test_drill_worker_killed(tmp_path):
    with send_stack(tmp_path, "postgresql", defaults=True, SEND_BATCH_SIZE=100) as kit:
        news = kit.newsletter("killed", rate=100)
        addresses = kit.readers(news, READERS)
        victim, _ = kit.start_workers("worker-1", "worker-2")
        kit.beat()
        send_id = kit.start(news)
        kit.wait_received(addresses, 200, timeout=60)
        running = select(SendBatch.id, SendBatch.attempts).where(
            SendBatch.send_id == send_id, SendBatch.status == BatchStatus.RUNNING
        )
        held = dict(db.session.execute(running).all())
        db.session.commit()
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(timeout=10)
        assert kit.total(addresses) < READERS, "the send finished before the kill"
        takeover = _taken_over(kit, send_id, held, killed_at)
        send = kit.wait_final(send_id, timeout=90, tick=False)
        judge(kit, send, addresses, "worker SIGKILLed (seconds from the kill)", takeover)
        assert send.possible_duplicates <= ONE_WORKER_BOUND
        assert takeover <= TAKEOVER_BOUND

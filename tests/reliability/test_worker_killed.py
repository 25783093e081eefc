"""A worker SIGKILLed mid-send: another worker and the watchdog finish it, nobody missed."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

from sqlalchemy import select

from service.extensions import db
from service.models import Delivery, DeliveryStatus, Newsletter, Send, SendStatus, Subscriber
from service.sending import scheduling
from service.sending.watchdog import watchdog
from tests.conftest import RedisServer, app_for, migrate, one_redis_env, start_worker, stop_process
from tests.functional.test_sending import fresh_article, reader

READERS = 200
THREADS = 4  # start_worker's --concurrency: batches in progress at once
CONNECTIONS = 2  # SEND_CONNECTIONS: each batch has at most 2 per connection in flight
IN_FLIGHT = THREADS * 2 * CONNECTIONS


def _received(smtp, addresses: set[str]) -> Counter:
    return Counter(m.recipients[0] for m in smtp.messages if m.recipients[0] in addresses)


def test_killed_worker_send_completes_without_missing_anyone(tmp_path, smtp_server):
    broker = RedisServer().start()
    env = one_redis_env(broker, smtp_server.url, tmp_path)
    env.update(SEND_BATCH_SIZE="20", SEND_LEASE_SECONDS="3", SEND_CONNECTIONS=str(CONNECTIONS))
    app = app_for(env, SEND_BATCH_SIZE=20, SEND_LEASE_SECONDS=3)
    migrate(app)
    workers = []
    try:
        with app.app_context():
            news = Newsletter(slug="killed", name="Killed", rate_limit_per_second=50)
            db.session.add(news)
            db.session.commit()
            fresh_article()
            addresses = {reader(news).email for _ in range(READERS)}
            workers.append(start_worker(env, tmp_path / "worker-1.log"))
            send_id = scheduling.create_send(news).id

            deadline = time.monotonic() + 30
            while sum(_received(smtp_server, addresses).values()) < 60:
                assert time.monotonic() < deadline, "the first worker never got going"
                time.sleep(0.02)
            os.kill(workers[0].pid, signal.SIGKILL)
            workers[0].wait(timeout=10)
            at_kill = sum(_received(smtp_server, addresses).values())
            assert at_kill < READERS, "the send finished before the kill: make it slower"

            workers.append(start_worker(env, tmp_path / "worker-2.log"))
            deadline = time.monotonic() + 90
            status = None
            while status != SendStatus.SENT:
                assert time.monotonic() < deadline, f"send stuck in {status}"
                watchdog()  # what beat's tick does every minute
                time.sleep(0.5)
                status = db.session.scalar(select(Send.status).where(Send.id == send_id))
                db.session.commit()

            counts = _received(smtp_server, addresses)
            assert set(counts) == addresses  # nobody missed
            duplicates = sum(counts.values()) - len(addresses)
            assert duplicates <= IN_FLIGHT  # at most the messages in flight at the kill
            ledger = db.session.execute(
                select(Delivery.status).where(Delivery.send_id == send_id)
            ).scalars()
            assert Counter(ledger) == {DeliveryStatus.SENT: READERS}
            send = db.session.get(Send, send_id)
            assert (send.sent, send.total) == (READERS, READERS)
            # Every reader who got two copies is among those the send reports as possible
            # duplicates; those are at most what the killed batches may have had unrecorded.
            flagged = set(
                db.session.scalars(
                    select(Subscriber.email)
                    .join(Delivery)
                    .where(Delivery.send_id == send_id, Delivery.possible_duplicate.is_(True))
                )
            )
            twice = {address for address, count in counts.items() if count > 1}
            assert twice <= flagged and send.possible_duplicates == len(flagged)
            assert send.possible_duplicates <= 2 * IN_FLIGHT
            print(f"worker killed: {duplicates} duplicates, {len(flagged)} reported possible")
    finally:
        for worker in workers:
            if worker.poll() is None:
                stop_process(worker)
        with app.app_context():
            db.engine.dispose()
        broker.stop()

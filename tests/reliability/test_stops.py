"""Pause and cancel at full speed: a real worker, a real relay on loopback counting messages.

A pause or a cancel answers once the running batches stopped, so the relay receives nothing
after the answer, and the counters in the answer are final (a cancelled send's readers it
never reached are `skipped` in the ledger). Between the request and the answer each running
batch lets out at most its window (`2 * SEND_CONNECTIONS`, already handed over) and the few
it hands over before its next ledger write brings the new status: `STOP_BOUND` for the two
workers (and beat) of the drill.
(Before: 59 messages after "paused" and 62 after "cancelled", readers never reached had no
ledger row.)
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.models import Delivery, Send
from service.sending import lifecycle
from tests.reliability.sendkit import CONNECTIONS, IN_FLIGHT, THREADS, send_stack

pytestmark = pytest.mark.timeout(180)

READERS = 3000
# Per worker: every running batch's window in flight, plus what each hands over before it
# learns the new status (half a window, or 0.2 s when its writes carry no counters), plus
# what goes out while the request itself commits (measured: 4 to 24 with 4 batches running).
WORKERS = 2
STOP_BOUND = WORKERS * (IN_FLIGHT + THREADS * CONNECTIONS + 8)
AFTER_THE_ANSWER = 0


def _stop(kit, addresses: set[str], action) -> tuple[int, int, Send, tuple]:
    """Run `action` at full speed; (messages between request and answer, messages after the
    answer, the answer, the books at the answer)."""
    before = sum(kit.received(addresses).values())
    started = time.monotonic()
    answer = action()
    seconds = time.monotonic() - started
    answered = sum(kit.received(addresses).values())
    books = kit.books(answer.id)
    time.sleep(2)  # anything still on its way lands meanwhile
    after = sum(kit.received(addresses).values()) - answered
    print(
        f"\nDRILL {action.__name__} at full speed: {answered - before} messages between request"
        f" and answer ({seconds:.2f} s), {after} after it"
    )
    assert kit.books(answer.id) == books, "the counters moved after the answer"
    return answered - before, after, answer, books


def test_drill_pause_and_cancel_at_full_speed_stop_within_a_few_messages(tmp_path):
    with send_stack(tmp_path, "postgresql", SEND_BATCH_SIZE=300, SEND_LEASE_SECONDS=10) as kit:
        news = kit.newsletter("full-speed", rate=0)
        addresses = kit.readers(news, READERS)
        kit.start_workers("worker-1", "worker-2")
        kit.beat()
        send_id = kit.start(news)
        kit.wait_received(addresses, 300, timeout=60)

        def pause():
            return lifecycle.pause_send(send_id)

        during, after, answer, books = _stop(kit, addresses, pause)
        assert answer.status == "paused"
        assert during <= STOP_BOUND and after <= AFTER_THE_ANSWER
        received = sum(kit.received(addresses).values())
        assert received < READERS, "the send finished before the pause: make it bigger"
        assert books[0] == books[1] and answer.sent == books[0][0]
        assert answer.sent == len(kit.received(addresses))  # no duplicates: nothing failed

        lifecycle.resume_send(send_id)
        kit.wait_received(addresses, received + 300, timeout=60)

        def cancel():
            return lifecycle.cancel_send(send_id)

        during, after, answer, books = _stop(kit, addresses, cancel)
        assert answer.status == "cancelled"
        assert during <= STOP_BOUND and after <= AFTER_THE_ANSWER
        reached = len(kit.received(addresses))
        assert reached < READERS, "the send finished before the cancel: make it bigger"
        # Final counts: every reader has a ledger row, those never reached are skipped.
        assert kit.ledger(send_id) == {"sent": reached, "skipped": READERS - reached}
        assert (answer.sent, answer.failed, answer.skipped) == (reached, 0, READERS - reached)
        assert books[0] == books[1]
        last_row = db.session.scalar(
            select(func.max(Delivery.updated_at)).where(
                Delivery.send_id == send_id, Delivery.status == "sent"
            )
        )
        assert answer.finished_at >= last_row

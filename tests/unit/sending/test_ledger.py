"""Group commit in the delivery ledger, and the batch's window over unwritten answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select, text, update

from service.extensions import db
from service.leaving import suppression
from service.mail import RenderedEmail, newsletter_sender
from service.mail.errors import PermanentMailError
from service.models import (
    Delivery,
    DeliveryStatus,
    Newsletter,
    Send,
    SendBatch,
    Subscriber,
    Subscription,
)
from service.sending import batches, delivery, relay
from service.sending.lease import Lease
from service.sending.ledger import Ledger
from service.sending.personalize import LEGACY, build_template
from tests.conftest import unique_email


@pytest.fixture
def send_with_readers(sqlite_app):
    """A send and 40 readers (no subscriptions needed: the ledger only points at them)."""
    news = Newsletter(slug="ledger", name="Ledger")
    db.session.add(news)
    db.session.commit()
    send = Send(newsletter_id=news.id, status="sending")
    readers = [
        Subscriber(email=(e := unique_email()), email_ascii=e, email_key=e) for _ in range(40)
    ]
    db.session.add_all([send, *readers])
    db.session.commit()
    return send, readers


@pytest.fixture
def commits():
    """How many transactions were committed on the engine."""
    count = [0]

    def on_commit(conn) -> None:
        count[0] += 1

    event.listen(db.engine, "commit", on_commit)
    yield count
    event.remove(db.engine, "commit", on_commit)


def ledger_rows(send_id: int) -> int:
    rows = db.session.scalar(select(func.count()).where(Delivery.send_id == send_id))
    db.session.commit()
    return rows


def test_answers_are_written_together_in_one_commit(send_with_readers, commits) -> None:
    send, readers = send_with_readers
    ledger = Ledger(send.id)
    for reader in readers[:10]:
        ledger.add(reader.id, DeliveryStatus.SENT, "250 ok", attempts=1)
    assert ledger.unwritten == 10 and ledger_rows(send.id) == 0
    before = commits[0]
    ledger.write()
    assert commits[0] - before == 1
    assert ledger.unwritten == 0 and ledger_rows(send.id) == 10
    ledger.close()
    assert db.session.get(Send, send.id, populate_existing=True).sent == 10


def test_rows_another_worker_wrote_are_not_counted_twice(send_with_readers) -> None:
    send, readers = send_with_readers
    first, second = Ledger(send.id), Ledger(send.id)
    first.add(readers[0].id, DeliveryStatus.SENT, "250 ok", attempts=1)
    first.close()
    second.add(readers[0].id, DeliveryStatus.SENT, "250 ok", attempts=1)
    second.add(readers[1].id, DeliveryStatus.BOUNCED, "550 no", attempts=1)
    second.close()
    send = db.session.get(Send, send.id, populate_existing=True)
    assert (send.sent, send.failed) == (1, 1) and ledger_rows(send.id) == 2


def test_queued_rows_are_updated_in_the_same_commit(send_with_readers, commits) -> None:
    send, readers = send_with_readers
    ledger = Ledger(send.id)
    ledger.add(readers[0].id, DeliveryStatus.QUEUED, "451 later", attempts=1)
    ledger.write()
    queued = db.session.scalar(select(Delivery).where(Delivery.send_id == send.id))
    db.session.commit()
    before = commits[0]
    ledger.add(readers[0].id, DeliveryStatus.SENT, "250 ok", attempts=2, delivery_id=queued.id)
    ledger.add(readers[1].id, DeliveryStatus.SENT, "250 ok", attempts=1)
    ledger.close()
    assert commits[0] - before == 1  # the rows and the counters together
    statuses = db.session.scalars(select(Delivery.status).where(Delivery.send_id == send.id))
    assert sorted(statuses) == ["sent", "sent"]


@pytest.mark.parametrize("connections", [1, 2, 8])
def test_batch_never_has_more_than_its_window_unwritten(
    sqlite_app, send_with_readers, monkeypatch, connections
) -> None:
    """Accepted-but-unwritten plus in-flight messages stay within 2 x connections."""
    send, readers = send_with_readers
    window = 2 * connections
    submitted, worst = [0], [0]

    def submit(message, sender, recipient, smtputf8, answers, tag) -> None:
        submitted[0] += 1
        worst[0] = max(worst[0], submitted[0] - ledger_rows(send.id))
        answers.put(relay.Answer(tag, "250 ok", None))  # the relay answers at once

    monkeypatch.setattr(relay, "pool", lambda: SimpleNamespace(size=connections, submit=submit))
    template = build_template(
        RenderedEmail(subject="s", text="t", html="<p>h</p>"),
        sender=newsletter_sender(db.session.get(Newsletter, send.newsletter_id)),
        newsletter_id=send.newsletter_id,
        placeholders=LEGACY,
    )
    rows = [delivery.Row(r.id, r.email, None, False, r.email_key, None, 0) for r in readers]
    batch = SendBatch(send_id=send.id, after_id=0, upto_id=readers[-1].id, status="running")
    batch.attempts = 1
    db.session.add(batch)
    db.session.commit()
    ledger = Ledger(send.id)
    tally = delivery.deliver_rows(ledger, Lease(batch.id, 1), rows, set(), template, None)
    assert tally.transient == 0
    ledger.close()
    assert submitted[0] == 40 and ledger_rows(send.id) == 40
    assert 1 < worst[0] <= window


def test_postgres_commits_without_waiting_only_while_the_batch_holds_the_connection(
    postgres_app,
) -> None:
    news = Newsletter(slug="pg-ledger", name="PG")
    reader = Subscriber(email=(e := unique_email()), email_ascii=e, email_key=e)
    db.session.add_all([news, reader])
    db.session.commit()
    send = Send(newsletter_id=news.id, status="sending")
    db.session.add(send)
    db.session.commit()
    send_id, reader_id = send.id, reader.id
    db.session.close()  # its connection back to the pool: the ledger takes it

    ledger = Ledger(send_id)
    ledger.add(reader_id, DeliveryStatus.SENT, "250 ok", attempts=1)
    ledger.write()
    held = ledger._conn
    dbapi = held.connection.dbapi_connection
    assert held.execute(text("SHOW synchronous_commit")).scalar() == "off"
    ledger.close()

    db.session.remove()
    checked_out = [db.engine.connect() for _ in range(2)]  # every pooled connection
    [same] = [c for c in checked_out if c.connection.dbapi_connection is dbapi]
    assert same.execute(text("SHOW synchronous_commit")).scalar() == "on"
    for conn in checked_out:
        conn.close()
    assert db.session.get(Send, send_id).sent == 1


def test_a_bounce_is_written_at_once_with_its_suppression(send_with_readers) -> None:
    send, readers = send_with_readers
    ledger = Ledger(send.id)
    ledger.add(readers[0].id, DeliveryStatus.SENT, "250 ok", attempts=1)
    bounced = delivery.Row(
        readers[1].id, readers[1].email, None, False, readers[1].email_key, None, 0
    )
    delivery._bounce(ledger, bounced, PermanentMailError(550, "5.1.1 no such user"))
    assert ledger.unwritten == 0 and ledger_rows(send.id) == 2
    assert suppression.reason(readers[1].email_key) == "bounce"  # 5.1.1: hard
    ledger.close()


def test_a_batch_taken_over_while_it_waits_for_the_rate_sends_nothing_more(
    sqlite_app, send_with_readers, monkeypatch
) -> None:
    """The lease is checked after the wait, before the hand-over: a worker cut off (or frozen)
    while it waited for a token must not send one more message once it is back."""
    send, readers = send_with_readers
    batch = SendBatch(send_id=send.id, after_id=0, upto_id=readers[-1].id, status="running")
    batch.attempts = 1
    db.session.add(batch)
    db.session.commit()
    submitted: list[int] = []

    def submit(message, sender, recipient, smtputf8, answers, tag) -> None:
        submitted.append(tag)
        answers.put(relay.Answer(tag, "250 ok", None))
        if len(submitted) == 1:  # another worker claims the batch while this one waits
            with db.engine.begin() as conn:
                conn.execute(update(SendBatch).where(SendBatch.id == batch.id).values(attempts=2))

    monkeypatch.setattr(relay, "pool", lambda: SimpleNamespace(size=2, submit=submit))
    template = build_template(
        RenderedEmail(subject="s", text="t", html="<p>h</p>"),
        sender=newsletter_sender(db.session.get(Newsletter, send.newsletter_id)),
        newsletter_id=send.newsletter_id,
        placeholders=LEGACY,
    )
    rows = [delivery.Row(r.id, r.email, None, False, r.email_key, None, 0) for r in readers[:3]]
    ledger = Ledger(send.id)
    # 0.5 tokens a second: after the first message the batch waits about 2 s for the next.
    outcome = delivery.deliver_rows(ledger, Lease(batch.id, 1), rows, set(), template, 0.5)
    ledger.close()
    assert outcome is None  # stopped: the batch is another worker's
    assert submitted == [readers[0].id]
    assert ledger_rows(send.id) == 1  # what it had handed over is recorded, nothing else


def _template_of(send):
    return build_template(
        RenderedEmail(subject="s", text="t", html="<p>h</p>"),
        sender=newsletter_sender(db.session.get(Newsletter, send.newsletter_id)),
        newsletter_id=send.newsletter_id,
        placeholders=LEGACY,
    )


def _running_batch(send, readers, handing_over_upto: int = 0) -> SendBatch:
    batch = SendBatch(
        send_id=send.id,
        after_id=0,
        upto_id=readers[-1].id,
        status="running",
        handing_over_upto=handing_over_upto,
    )
    batch.attempts = 1
    db.session.add(batch)
    db.session.commit()
    return batch


@pytest.mark.parametrize("connections", [1, 4])
def test_every_hand_over_is_covered_by_a_mark_written_before_it(
    sqlite_app, send_with_readers, monkeypatch, connections
) -> None:
    """Should the worker die at any hand-over, its batch row already says that this reader
    may have the message: the next claim counts a second copy as a possible duplicate."""
    send, readers = send_with_readers
    batch = _running_batch(send, readers)
    uncovered = []

    def submit(message, sender, recipient, smtputf8, answers, tag) -> None:
        mark = db.session.scalar(
            select(SendBatch.handing_over_upto).where(SendBatch.id == batch.id)
        )
        db.session.commit()
        if tag > mark:
            uncovered.append((tag, mark))
        answers.put(relay.Answer(tag, "250 ok", None))

    monkeypatch.setattr(relay, "pool", lambda: SimpleNamespace(size=connections, submit=submit))
    rows = [delivery.Row(r.id, r.email, None, False, r.email_key, None, 0) for r in readers]
    ledger = Ledger(send.id)
    delivery.deliver_rows(ledger, Lease(batch.id, 1), rows, set(), _template_of(send), None)
    ledger.close()
    assert ledger_rows(send.id) == 40 and uncovered == []
    # Once every hand-over is recorded, the mark comes down: a later claim flags nobody.
    mark = db.session.scalar(select(SendBatch.handing_over_upto).where(SendBatch.id == batch.id))
    assert mark == 0


def test_readers_sent_again_after_a_lost_record_are_counted_as_possible_duplicates(
    sqlite_app, send_with_readers, monkeypatch
) -> None:
    """A claim after a fault flags readers up to the old mark that have no ledger row; those
    it sends again (accepted or deferred) are the send's possible duplicates."""
    send, readers = send_with_readers
    ledger = Ledger(send.id)
    for reader in readers[:10]:  # the first claim's outcomes that were written
        ledger.add(reader.id, DeliveryStatus.SENT, "250 ok", attempts=1)
    ledger.close()
    # It had marked up to the 16th reader; 11th to 16th may or may not have gone out.
    batch = _running_batch(send, readers, handing_over_upto=readers[15].id)
    db.session.add_all(
        Subscription(subscriber_id=r.id, newsletter_id=send.newsletter_id, status="confirmed")
        for r in readers
    )
    db.session.commit()
    rows = batches._recipients(send.id, send.newsletter_id, batch)
    assert [r.subscriber_id for r in rows if r.maybe_twice] == [r.id for r in readers[10:16]]
    answers_by_reader = {readers[11].id: PermanentMailError(550, "no such user")}

    def submit(message, sender, recipient, smtputf8, answers, tag) -> None:
        error = answers_by_reader.get(tag)
        answers.put(relay.Answer(tag, None if error else "250 ok", error))

    monkeypatch.setattr(relay, "pool", lambda: SimpleNamespace(size=2, submit=submit))
    ledger = Ledger(send.id)
    delivery.deliver_rows(ledger, Lease(batch.id, 1), rows, set(), _template_of(send), None)
    ledger.close()
    flagged = set(
        db.session.scalars(
            select(Delivery.subscriber_id).where(
                Delivery.send_id == send.id, Delivery.possible_duplicate.is_(True)
            )
        )
    )
    # The 11th to 16th were sent again, except the 12th, which the relay refused this time.
    assert flagged == {r.id for r in readers[10:16]} - {readers[11].id}
    send = db.session.get(Send, send.id, populate_existing=True)
    assert send.possible_duplicates == 5 and send.sent == 39

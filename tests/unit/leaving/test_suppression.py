"""The suppression list: hashes only, a harder reason wins, a bounce suppresses and is final."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from service.extensions import db
from service.leaving import suppression
from service.models import Suppression


def _rows() -> list[tuple[str, str, str]]:
    db.session.expire_all()
    return [
        tuple(r)
        for r in db.session.execute(
            select(Suppression.email_hash, Suppression.reason, Suppression.detail)
        )
    ]


def test_only_the_hash_of_the_address_key_is_kept(unit_app):
    suppression.suppress("olena@gmail.com", suppression.MANUAL, "abuse report")
    digest = hashlib.sha256(b"olena@gmail.com").hexdigest()
    assert suppression.suppression_hash("olena@gmail.com") == digest
    assert _rows() == [(digest, "manual", "abuse report")]
    assert suppression.reason("olena@gmail.com") == "manual"
    assert suppression.reason("taras@gmail.com") is None


def test_adding_twice_keeps_one_row_and_a_harder_reason_wins(unit_app):
    suppression.suppress("olena@gmail.com", suppression.UNSUBSCRIBE_ALL, "subscriber 1")
    suppression.suppress("olena@gmail.com", suppression.UNSUBSCRIBE_ALL, "subscriber 1")
    assert [r[1:] for r in _rows()] == [("unsubscribe_all", "subscriber 1")]
    suppression.suppress("olena@gmail.com", suppression.BOUNCE, "550")
    assert [r[1:] for r in _rows()] == [("bounce", "550")]
    suppression.suppress("olena@gmail.com", suppression.UNSUBSCRIBE_ALL, "later")
    suppression.suppress("olena@gmail.com", suppression.MANUAL, "ops")
    assert [r[1:] for r in _rows()] == [("bounce", "550")]  # never softened, first hard stays


def test_remove_by_reason_lifts_only_those_reasons(unit_app):
    suppression.suppress("olena@gmail.com", suppression.MANUAL)
    suppression.remove("olena@gmail.com", {suppression.UNSUBSCRIBE_ALL})
    db.session.commit()
    assert suppression.reason("olena@gmail.com") == "manual"
    suppression.unsuppress("olena@gmail.com")
    assert _rows() == []


def test_suppressed_keys_picks_the_suppressed_out_of_a_batch(unit_app):
    suppression.suppress("a@gmail.com", suppression.MANUAL)
    suppression.suppress("c@gmail.com", suppression.BOUNCE)
    batch = ["a@gmail.com", "b@gmail.com", "c@gmail.com"]
    assert suppression.suppressed_keys(batch) == {"a@gmail.com", "c@gmail.com"}
    assert suppression.suppressed_keys([]) == set()
    assert suppression.suppressed_keys(iter(["b@gmail.com"])) == set()


def test_a_bounce_marks_the_subscription_bounced_and_suppresses(add_reader, daily, weekly):
    reader = add_reader("olena@gmail.com", daily, weekly)
    suppression.record_bounce(reader.id, daily.id, reader.email_key, "550 5.1.1 " + "x" * 2000)
    db.session.expire_all()
    assert [s.status for s in reader.subscriptions] == ["bounced", "confirmed"]
    [(_, why, detail)] = _rows()
    assert why == "bounce" and len(detail) == 1000
    suppression.record_bounce(reader.id, weekly.id, reader.email_key, "again")  # no conflict
    assert [r[1:] for r in _rows()] == [("bounce", detail)]
    assert [s.status for s in reader.subscriptions] == ["bounced", "bounced"]


def test_a_bounce_of_a_reader_without_that_subscription_still_suppresses(unit_app):
    suppression.record_bounce(12345, 678, "gone@gmail.com", "550")
    assert suppression.reason("gone@gmail.com") == "bounce"

"""Unconfirmed signups expire: never-confirmed ones are deleted, with a reader left with nothing."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from service.extensions import db
from service.leaving import changes
from service.leaving.expiry import pending_expiry_days, purge_expired_pending
from service.models import ConsentRecord, Subscriber, Subscription, utcnow


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _later(days: float):
    return time_machine.travel(utcnow() + timedelta(days=days), tick=False)


def test_a_signup_never_confirmed_is_gone_with_its_reader_after_the_expiry(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily, status="pending")
    db.session.add(ConsentRecord(subscriber=reader, action="signup", newsletters="daily"))
    db.session.commit()
    assert pending_expiry_days() == 30
    with _later(29):
        assert purge_expired_pending() == 0
    with _later(31):
        assert purge_expired_pending() == 1
    assert (_count(Subscriber), _count(Subscription), _count(ConsentRecord)) == (0, 0, 0)


def test_a_reader_keeps_their_confirmed_newsletters_and_a_past_one_goes_back(
    add_reader, add_newsletter, daily, weekly
):
    reader = add_reader("olena@gmail.com", daily, weekly)
    changes.unsubscribe(reader.id, weekly.id, "link")
    weekly_sub = reader.subscriptions[1]
    weekly_sub.move_to("pending", "signup")  # signed up again, never confirmed this time
    db.session.add(
        Subscription(subscriber=reader, newsletter=add_newsletter("third"), status="pending")
    )
    db.session.commit()
    with _later(31):
        assert purge_expired_pending() == 2
    db.session.expire_all()
    assert [(s.newsletter.slug, s.status) for s in reader.subscriptions] == [
        ("daily", "confirmed"),
        ("weekly", "unsubscribed"),  # confirmed once: kept as left, not deleted
    ]


def test_days_can_be_given(add_reader, daily):
    add_reader("olena@gmail.com", daily, status="pending")
    assert purge_expired_pending(days=1) == 0
    with _later(1.5):
        assert purge_expired_pending(days=1) == 1

"""Readers for the leaving tests: rows as a confirmed signup leaves them."""

from __future__ import annotations

import pytest

from service.extensions import db
from service.models import Newsletter, Subscriber, Subscription, utcnow


@pytest.fixture
def daily(add_newsletter) -> Newsletter:
    return add_newsletter("daily", name="Ukraine Daily")


@pytest.fixture
def weekly(add_newsletter) -> Newsletter:
    return add_newsletter("weekly", name="The Week in Ukraine")


@pytest.fixture
def add_reader(unit_app):
    """Make and commit a reader on `newsletters`, each subscription in `status`."""

    def make(address: str, *newsletters: Newsletter, status: str = "confirmed") -> Subscriber:
        reader = Subscriber(email=address, email_ascii=address, email_key=address.lower())
        confirmed_at = utcnow() if status == "confirmed" else None
        reader.subscriptions = [
            Subscription(newsletter=n, status=status, confirmed_at=confirmed_at)
            for n in newsletters
        ]
        db.session.add(reader)
        db.session.commit()
        return reader

    return make

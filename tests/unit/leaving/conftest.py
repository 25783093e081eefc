"""Readers for the leaving tests: rows as a confirmed signup leaves them."""

from __future__ import annotations

import pytest

from service.models import Newsletter, Subscriber
from tests.support import readers


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
        return readers.add_reader(*newsletters, status=status, email=address)

    return make

"""The unit tier: SQLite in a temporary file, mail kept in memory, jobs run in this process.

No server of any kind (no Redis, no broker, no SMTP): `JOBS_RUN_INLINE` makes the outbox run
each job's Celery task right after its transaction commits, in this process and thread, so a
test sees the whole chain (signup, apply, confirmation email) synchronously. While `unit_app`
is in use, a network connection from the test's thread fails the test (`NetworkUsed`), so a
test of this tier that reaches for a server says so at once.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from service import create_app
from service.extensions import db
from service.mail import transport
from service.mail.transports import MemoryTransport, SentMessage
from service.models import Newsletter
from tests.conftest import TEST_SECRET, migrate


class NetworkUsed(AssertionError):
    """A unit-tier test opened a network connection: it needs a server, so it is not a unit test."""


_guarded_threads: set[int] = set()


def _refuse_network(event: str, args: tuple) -> None:
    """Audit hook: no TCP/UDP connection from a thread running a `unit_app` test."""
    if event != "socket.connect" or threading.get_ident() not in _guarded_threads:
        return
    sock, address = args
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        raise NetworkUsed(f"a unit test connected to {address!r}; use a functional test")


sys.addaudithook(_refuse_network)  # hooks cannot be removed: it acts only on guarded threads


@pytest.fixture
def unit_app(tmp_path) -> Iterator[Flask]:
    """A migrated app that needs no server, its context pushed."""
    app = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unit.db'}",
            "CELERY_BROKER_URL": "memory://",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ENABLED": False,
            "MAIL_URL": "memory://",
            "MAIL_FROM": "newsletter@news.example.org",
            "PUBLIC_URL": "https://newsletters.example.org",
            "SECRET_KEYS": [TEST_SECRET],
            "INSTANCE_PATH": str(tmp_path),
            "JOBS_RUN_INLINE": True,
            "CONFIRMATION_RESEND_SECONDS": 600,
        }
    )
    migrate(app)
    _guarded_threads.add(threading.get_ident())
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        _guarded_threads.discard(threading.get_ident())


@pytest.fixture
def add_newsletter(unit_app):
    """Make and commit a newsletter: `add_newsletter("daily", name=..., is_public=...)`."""

    def make(slug: str, **fields: object) -> Newsletter:
        newsletter = Newsletter(slug=slug, **{"name": slug.title(), **fields})
        db.session.add(newsletter)
        db.session.commit()
        return newsletter

    return make


@pytest.fixture
def sent_mail(unit_app) -> list[SentMessage]:
    """The messages this thread's memory transport has sent during the test (live list)."""
    memory = transport()
    assert isinstance(memory, MemoryTransport)
    memory.messages.clear()
    return memory.messages

"""The unit tier: SQLite in a temporary file, mail kept in memory, jobs run in this process.

No server of any kind (no Redis, no broker, no SMTP): `JOBS_RUN_INLINE` makes the outbox run
each job's Celery task right after its transaction commits, in this process and thread, so a
test sees the whole chain (signup, apply, confirmation email) synchronously.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from service import create_app
from service.extensions import db
from service.mail import transport
from service.mail.transports import MemoryTransport, SentMessage
from tests.conftest import TEST_SECRET, migrate


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
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sent_mail(unit_app) -> list[SentMessage]:
    """The messages this thread's memory transport has sent during the test (live list)."""
    memory = transport()
    assert isinstance(memory, MemoryTransport)
    memory.messages.clear()
    return memory.messages

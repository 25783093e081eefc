"""Sending digests: scheduling, fan-out into leased batches, delivery with a ledger, control.

scheduling  cron slots and one-off sends become `Send` rows; beat's tick starts due ones
fanout      start a send (freeze content, fix the recipient set), plan leased batches
delivery    deliver one batch: personalize, rate-limit, send, write the ledger
ledger      delivery rows written in groups (group commit), the send's counters
relay       the process's pool of SMTP connections (sender threads)
control     pause, resume, cancel, and the watchdog that re-dispatches dead batches
personalize prebuilt MIME bytes with placeholders, filled in per recipient
signing     unsubscribe/preference tokens minted in bulk (same tokens as service.tokens)
ratelimit   a token bucket shared through Redis (in-process without REDIS_URL)
content     the digest to send (service.digests.compose), rendered once per send
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from sqlalchemy.exc import DBAPIError

from service.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRIES = 3  # tries of a unit of work whose database connection was dropped
DB_RETRY_PAUSE = 0.5  # seconds, times the try's number


def setting(name: str) -> float:
    """A sending setting from the app config (defaults: `service.config.SEND_DEFAULTS`)."""
    return current_app.config[name]


def is_disconnect(error: BaseException) -> bool:
    """Did this database error come from a connection the server dropped?"""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def on_fresh_connection(work: Callable[[], T]) -> T:
    """Run `work`; if the database dropped the connection, roll back and run it again.

    For units of work that resume from what is committed (a batch from its ledger, the
    planner from its checkpoint): SQLAlchemy has already replaced the dead connections.
    """
    for attempt in range(1, DB_RETRIES + 1):
        try:
            return work()
        except DBAPIError as error:
            db.session.rollback()
            if not is_disconnect(error) or attempt == DB_RETRIES:
                raise
            log.warning("database connection lost (%s); retrying on a fresh one", error.orig)
            time.sleep(DB_RETRY_PAUSE * attempt)
    raise AssertionError("unreachable")

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
content     the digest to send (service.digests), rendered once per send
"""

from __future__ import annotations

import os
from typing import TypeVar

from flask import current_app

T = TypeVar("T", int, float, str)

START_TASK = "sending.start"
PLAN_TASK = "sending.plan"
BATCH_TASK = "sending.batch"

DEFAULTS: dict[str, int | float] = {
    "SEND_BATCH_SIZE": 300,
    "SEND_LEASE_SECONDS": 60,
    "SEND_RETRY_BASE_SECONDS": 5,
    "SEND_RETRY_MAX_SECONDS": 1800,
    "SEND_RETRY_DEADLINE_SECONDS": 4 * 3600,
    "SEND_MAX_CONSECUTIVE_FAILURES": 25,
    "SEND_RATE_LIMIT": 0.0,
    "SEND_CONNECTIONS": 4,
    "SEND_SCHEDULE_CATCHUP_SECONDS": 3600,
}


def setting(name: str) -> float:
    """A sending setting: the app config, else the environment, else the default above."""
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name) or None
    default = DEFAULTS[name]
    if value is None:
        return default
    return type(default)(value)

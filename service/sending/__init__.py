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

from flask import current_app

START_TASK = "sending.start"
PLAN_TASK = "sending.plan"
BATCH_TASK = "sending.batch"


def setting(name: str) -> float:
    """A sending setting from the app config (defaults: `service.config.SEND_DEFAULTS`)."""
    return current_app.config[name]

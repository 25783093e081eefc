"""Sending digests: scheduling, fan-out into leased batches, delivery with a ledger, control.

scheduling   cron slots and one-off sends become `Send` rows; beat's tick starts due ones
fanout       start a send (freeze content, fix the recipient set), plan leased batches
content      the digest to send (`service.digests.compose`), rendered once, placeholders drawn
batches      a batch's life: claim, deliver, then retry, finish or park it
lease        a batch's lease and fencing token: claim, renew, release
delivery     the hot loop of a batch: personalize, rate-limit, send, write the ledger
personalize  prebuilt MIME bytes cut where each reader's values go, joined per reader
signing      unsubscribe/preference tokens minted in bulk (the same tokens as `service.tokens`)
ledger       delivery rows written in groups (group commit), and the send's counters with them
books        the send's books from its ledger: recount, readers never reached, deferrals
relay        the process's pool of SMTP connections to the relay (sender threads)
ratelimit    a token bucket shared through Redis (in-process without REDIS_URL)
lifecycle    pause, resume, cancel, and finishing a send when every batch is done
watchdog     re-publishes batches and planners whose lease ran out (their worker died)
keeper       a worker's thread: renews its batches' leases, runs the watchdog
summary      a send as operators see it, the same in the admin API and the CLI
"""

from __future__ import annotations

from flask import current_app


def setting(name: str) -> float:
    """A sending setting from the app config (defaults: `service.config.SEND_DEFAULTS`)."""
    return current_app.config[name]

"""Delivering one event to one endpoint: the outbox job's work.

Each attempt is signed anew and kept with its answer. A 2xx is delivered. A 410 disables the
endpoint at once. Anything else (no answer, a timeout, 5xx, 429...) is retried through the
outbox's runner (`RetryLater`) on the schedule Standard Webhooks suggests, with jitter:
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so about 27 hours before the event is given up. A
429 or 503 with `Retry-After` slows the whole endpoint down: nothing goes to it before then.
An endpoint that has not answered 2xx for `DISABLE_AFTER` when an event is given up is
disabled, with the reason. An event about a reader erased meanwhile is dropped unsent. An
endpoint whose sealed secret no configured key opens is not posted to: the attempt is recorded
with that reason and retried like a failure (a key put back lets the events go on).
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from service import sealed
from service.extensions import db
from service.models import Subscriber, WebhookAttempt, WebhookEndpoint, utcnow
from service.outbox import RetryLater
from service.webhooks.network import Answer, post
from service.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

# Seconds to wait after the 1st, 2nd... failed attempt (Standard Webhooks' suggestion).
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
DISABLE_AFTER = timedelta(days=1)
MAX_RETRY_AFTER = 86400.0
UNREADABLE = (
    "not sent: the endpoint's signing secret opens with no key in SECRET_KEY (was a key "
    "removed?); put the key back, or rotate the secret (newsletter webhooks rotate ID)"
)


def body_of(payload: dict[str, Any]) -> bytes:
    """The JSON body every attempt of an event carries: `{"type", "timestamp", "data"}`."""
    event = {"type": payload["type"], "timestamp": payload["timestamp"], "data": payload["data"]}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def retry_after_seconds(value: str | None, now_ts: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delay or HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(int(value)) if value.isdigit() else None
    except ValueError:
        seconds = None
    if seconds is None:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now_ts
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def deliver(payload: dict[str, Any]) -> None:
    """Try to deliver the event of one outbox job; raise `RetryLater` to be tried again."""
    endpoint = db.session.get(WebhookEndpoint, payload["endpoint_id"])
    if endpoint is None or endpoint.disabled_at is not None:
        return  # removed or disabled since: the event is not for anyone any more
    reader = payload.get("subscriber_id")
    if reader is not None and db.session.get(Subscriber, reader) is None:
        log.info("webhook %s dropped: its reader was erased", payload["message_id"])
        return
    now = utcnow()
    if endpoint.paused_until is not None and endpoint.paused_until > now:
        wait = (endpoint.paused_until - now).total_seconds()
        raise RetryLater(f"endpoint {endpoint.id} asked to wait", after=wait)
    tried = db.session.scalar(
        select(func.count())
        .select_from(WebhookAttempt)
        .where(
            WebhookAttempt.endpoint_id == endpoint.id,
            WebhookAttempt.message_id == payload["message_id"],
        )
    )
    body = body_of(payload)
    url, endpoint_id = endpoint.url, endpoint.id
    try:
        keys = signing_secrets(endpoint, now)
    except sealed.Unreadable:
        log.warning("webhook endpoint %s: %s", endpoint_id, UNREADABLE)
        answer = Answer(status=None, error=UNREADABLE)
    else:
        headers = signed_headers(keys, payload["message_id"], now, body)
        db.session.commit()  # no transaction stays open while the endpoint takes its time
        config = current_app.config
        answer = post(
            url,
            body,
            headers,
            timeout=config["WEBHOOK_TIMEOUT"],
            allow_private=config["WEBHOOK_ALLOW_PRIVATE"],
        )
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return  # removed while we waited for it
    delay = _judge(endpoint, answer, tried or 0, now)
    db.session.add(
        WebhookAttempt(
            endpoint_id=endpoint.id,
            message_id=payload["message_id"],
            event_type=payload["type"],
            attempted_at=now,
            status_code=answer.status,
            response_excerpt=answer.excerpt,
            error=answer.error,
            duration_ms=answer.duration_ms,
            outcome=answer.outcome,
        )
    )
    db.session.commit()
    if delay is not None:
        raise RetryLater(f"webhook {payload['message_id']}: {_said(answer)}", after=delay)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now, opened: the current one, and the previous one until it
    expires (left out, with a warning, if no key opens it: the current one still signs).
    `sealed.Unreadable` when no key opens the current one."""
    keys = [sealed.unseal(sealed.WEBHOOK, endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        try:
            keys.append(sealed.unseal(sealed.WEBHOOK, endpoint.previous_secret))
        except sealed.Unreadable:
            log.warning("webhook endpoint %s: its previous secret opens with no key", endpoint.id)
    return keys


def _said(answer: Answer) -> str:
    return f"HTTP {answer.status}" if answer.status is not None else answer.error or "no answer"


def _judge(endpoint: WebhookEndpoint, answer: Answer, tried: int, now: datetime) -> float | None:
    """Set the attempt's outcome and the endpoint's state; the delay before a retry, if any."""
    if answer.status is not None and 200 <= answer.status < 300:
        answer.outcome = "delivered"
        endpoint.failing_since = None
        return None
    if answer.status == 410:
        answer.outcome = "disabled"
        _disable(endpoint, now, "the endpoint answered 410 Gone")
        return None
    endpoint.failing_since = endpoint.failing_since or now
    asked = None
    if answer.status in (429, 503):
        asked = retry_after_seconds(answer.retry_after, now.timestamp())
        if asked:
            endpoint.paused_until = now + timedelta(seconds=asked)
    if tried >= len(SCHEDULE):
        answer.outcome = "gave_up"
        if now - endpoint.failing_since >= DISABLE_AFTER:
            since = endpoint.failing_since.isoformat(timespec="seconds")
            _disable(endpoint, now, f"failing since {since}; last: {_said(answer)}"[:500])
        return None
    answer.outcome = "retrying"
    planned = SCHEDULE[tried] * random.uniform(1 - JITTER, 1 + JITTER)
    return max(planned, asked or 0.0)


def _disable(endpoint: WebhookEndpoint, now: datetime, reason: str) -> None:
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)

"""Each provider's feedback hook: verify its signature, then parse its events.

One module per provider (`ses`, `postmark`, `sendgrid`, `mailgun`), each with
`verify(headers, body, config)` — raises `Refused` before anything else of the request is
read — and `parse(body) -> list[FeedbackEvent]`, which changes nothing (the http blueprint
hands each event to `feedback.record_feedback`). A provider whose secret is unset is
`Disabled` (its endpoint answers 404, never open).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any


class Disabled(Exception):
    """The provider's secret is not set: its endpoint does not exist."""


class Refused(Exception):
    """A request that is not the provider's: `status` 401 (unsigned) or 403 (forged, stale,
    replayed, from a topic or host not allowed), `code` for the error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Unreadable(ValueError):
    """A verified body that is not what the provider documents (answered 400)."""


def json_body(body: bytes) -> Any:
    """The body as JSON, or `Unreadable`."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Unreadable("the body is not JSON") from None


def fresh(timestamp: object, max_age: float, now: float | None = None) -> float:
    """A signed Unix `timestamp` within `max_age` seconds of now (either way), else 403."""
    try:
        value = float(str(timestamp).strip())
    except ValueError:
        raise Refused(403, "stale", "the signature's timestamp is not a number") from None
    now = time.time() if now is None else now
    if not value == value or abs(now - value) > max_age:  # NaN or out of the window
        raise Refused(403, "stale", "the signature's timestamp is too old or in the future")
    return value


def when(value: object) -> datetime | None:
    """A provider's time (ISO 8601 text or Unix seconds) as an aware datetime, or None."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def text(value: object, limit: int = 2000) -> str:
    """A provider's field as text (numbers as digits), cut to `limit`; anything else ""."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""

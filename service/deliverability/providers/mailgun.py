"""Mailgun's webhooks, signed: HMAC-SHA256 of timestamp + token with the signing key.

Mailgun posts JSON with a `signature` object (`timestamp`, `token`, `signature`: the hex
HMAC-SHA256 of the timestamp and the token, keyed with `MAILGUN_SIGNING_KEY`) beside the
`event-data`. Only the `signature` object is read before it verifies; a timestamp more
than `PROVIDER_HOOK_MAX_AGE` seconds away is refused, and a token is accepted once
(`feedback_tokens`), so a captured post cannot be replayed.

Events used: `failed` (permanent or temporary; the class comes from the delivery status's
code and message) and `complained`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from service.deliverability.feedback import FeedbackEvent
from service.deliverability.providers import (
    Disabled,
    Refused,
    Unreadable,
    fresh,
    json_body,
    text,
    when,
)
from service.extensions import db, insert_ignoring_conflicts
from service.models import UsedToken, utcnow

KINDS = {"failed": "bounce", "complained": "complaint"}


def verify(headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
    """The post's signature verifies, is fresh and its token unused (else 401/403)."""
    key = config["MAILGUN_SIGNING_KEY"]
    if not key:
        raise Disabled("mailgun")
    try:
        signed = json_body(body).get("signature")
    except (Unreadable, AttributeError):
        signed = None
    if not isinstance(signed, dict) or not all(
        isinstance(signed.get(name), str | int) for name in ("timestamp", "token", "signature")
    ):
        raise Refused(401, "unauthorized", "a Mailgun signature object is required")
    timestamp, token = str(signed["timestamp"]), str(signed["token"])
    given = str(signed["signature"])
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise Refused(403, "bad_signature", "the signature does not verify")
    max_age = float(config["PROVIDER_HOOK_MAX_AGE"])
    fresh(timestamp, max_age)
    if len(token) > 128 or not _first_use(token, max_age):
        raise Refused(403, "replayed", "this token was used before")


def _first_use(token: str, max_age: float) -> bool:
    """Note the token as used; False if it was already (committed)."""
    now = utcnow()
    db.session.execute(
        delete(UsedToken).where(UsedToken.used_at < now - timedelta(seconds=2 * max_age))
    )
    inserted = db.session.execute(
        insert_ignoring_conflicts(UsedToken)
        .values(source="mailgun", token=token, used_at=now)
        .returning(UsedToken.id)
    ).scalar()
    db.session.commit()
    return inserted is not None


def parse(body: bytes) -> list[FeedbackEvent]:
    """The post's failure or complaint (other events: none)."""
    data = json_body(body).get("event-data")
    if not isinstance(data, dict):
        raise Unreadable("a Mailgun webhook carries `event-data`")
    kind = KINDS.get(text(data.get("event")))
    event_id = text(data.get("id"), 200)
    if kind is None or not event_id:
        return []
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    code = text(status.get("enhanced-code"), 32) or text(status.get("code"), 32)
    diagnostic = " ".join(
        filter(None, (text(status.get("message")), text(status.get("description"))))
    )
    return [
        FeedbackEvent(
            source="mailgun",
            kind=kind,
            provider_event_id=event_id,
            status=code,
            diagnostic=diagnostic,
            recipient=text(data.get("recipient"), 320) or None,
            message_id=text(headers.get("message-id"), 300) or None,
            occurred_at=when(data.get("timestamp")),
        )
    ]

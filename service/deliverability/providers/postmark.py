"""Postmark's bounce and spam-complaint webhooks, behind HTTP Basic authentication.

Postmark posts one JSON record per event to the URL set on the server's webhook (with
`user:password@` in it): `RecordType` `Bounce` (its `Details` carries the remote answer,
`smtp;550 5.1.1 ...`) or `SpamComplaint`. The user and password are compared in constant
time against `POSTMARK_WEBHOOK_USER` / `POSTMARK_WEBHOOK_PASSWORD`. Postmark's own `Type`
label (`HardBounce`...) is not used: the class comes from the status code.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Any

from service.deliverability.feedback import FeedbackEvent
from service.deliverability.providers import Disabled, Refused, Unreadable, json_body, text, when

KINDS = {"Bounce": "bounce", "SpamComplaint": "complaint"}


def verify(headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
    """The request's Basic credentials are the configured ones (401 if absent, 403 if not)."""
    user, password = config["POSTMARK_WEBHOOK_USER"], config["POSTMARK_WEBHOOK_PASSWORD"]
    if not user or not password:
        raise Disabled("postmark")
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Refused(401, "unauthorized", "HTTP Basic credentials are required")
    try:
        given_user, _, given_password = base64.b64decode(encoded, validate=True).partition(b":")
    except ValueError:
        raise Refused(401, "unauthorized", "the Basic credentials are not base64") from None
    same_user = hmac.compare_digest(given_user, user.encode())
    same_password = hmac.compare_digest(given_password, password.encode())
    if not (same_user and same_password):
        raise Refused(403, "forbidden", "wrong credentials")


def parse(body: bytes) -> list[FeedbackEvent]:
    """The record's bounce or complaint (other record types: none)."""
    record = json_body(body)
    if not isinstance(record, dict):
        raise Unreadable("a Postmark webhook posts one JSON object")
    kind = KINDS.get(text(record.get("RecordType")))
    if kind is None or not text(record.get("ID")):
        return []
    details = text(record.get("Details"))
    return [
        FeedbackEvent(
            source="postmark",
            kind=kind,
            provider_event_id=f"{record['RecordType']}:{text(record.get('ID'))}",
            status="",  # Postmark has no status field: the code is read from `Details`
            diagnostic=details or text(record.get("Description")),
            recipient=text(record.get("Email"), 320) or None,
            message_id=_message_id(record),
            occurred_at=when(record.get("BouncedAt") or record.get("ReceivedAt")),
        )
    ]


def _message_id(record: dict) -> str | None:
    """Our Message-ID, when Postmark passed the original headers along."""
    for item in record.get("Headers") or []:
        if isinstance(item, dict) and text(item.get("Name")).lower() == "message-id":
            return text(item.get("Value"), 300) or None
    return None

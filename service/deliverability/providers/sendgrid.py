"""SendGrid's Event Webhook, signed: ECDSA P-256 with SHA-256 over timestamp + raw body.

SendGrid signs each post with the key pair of the account's signed Event Webhook: the
signature (base64 DER) in `X-Twilio-Email-Event-Webhook-Signature`, the Unix time in
`X-Twilio-Email-Event-Webhook-Timestamp`, the signed bytes being that timestamp followed by
the body exactly as received. `SENDGRID_WEBHOOK_PUBLIC_KEY` is the verification key as
SendGrid shows it (base64 of the DER public key). A timestamp more than
`PROVIDER_HOOK_MAX_AGE` seconds away is refused, so a captured post cannot be replayed
later; within that window the same event twice acts once (`sg_event_id`).

Events used: `bounce` (its `type` is `bounce` or `blocked`; the class comes from `status`
and `reason`), `dropped` (SendGrid did not send: recorded, acted on only with a status code
in its reason), `spamreport`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

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

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
KINDS = {"bounce": "bounce", "dropped": "bounce", "spamreport": "complaint"}


class KeyError_(ValueError):
    """`SENDGRID_WEBHOOK_PUBLIC_KEY` is no P-256 public key."""


@lru_cache(maxsize=4)
def public_key(text_key: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its base64 DER text (PEM armour tolerated)."""
    lines = [line for line in text_key.strip().splitlines() if "-----" not in line]
    try:
        key = load_der_public_key(base64.b64decode("".join(lines), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise KeyError_(f"SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyError_("SENDGRID_WEBHOOK_PUBLIC_KEY must be an ECDSA P-256 key")
    return key


def verify(headers: Mapping[str, str], body: bytes, config: Mapping[str, Any]) -> None:
    """The body is signed by SendGrid's key, and the signature is fresh (else 401/403)."""
    configured = config["SENDGRID_WEBHOOK_PUBLIC_KEY"]
    if not configured:
        raise Disabled("sendgrid")
    signature, timestamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise Refused(401, "unauthorized", f"{SIGNATURE} and {TIMESTAMP} are required")
    fresh(timestamp, float(config["PROVIDER_HOOK_MAX_AGE"]))
    try:
        der = base64.b64decode(signature, validate=True)
        public_key(configured).verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise Refused(403, "bad_signature", "the signature does not verify") from None


def parse(body: bytes) -> list[FeedbackEvent]:
    """The bounces and spam reports of a batch of events (other events: none)."""
    batch = json_body(body)
    if not isinstance(batch, list):
        raise Unreadable("SendGrid posts a JSON array of events")
    found = []
    for item in batch:
        if not isinstance(item, dict):
            continue
        kind = KINDS.get(text(item.get("event")))
        event_id = text(item.get("sg_event_id"), 200)
        if kind is None or not event_id:
            continue
        found.append(
            FeedbackEvent(
                source="sendgrid",
                kind=kind,
                provider_event_id=event_id,
                status=text(item.get("status"), 32),
                diagnostic=text(item.get("reason")),
                recipient=text(item.get("email"), 320) or None,
                message_id=text(item.get("smtp-id"), 300) or None,
                occurred_at=when(item.get("timestamp")),
            )
        )
    return found

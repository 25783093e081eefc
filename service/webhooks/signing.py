"""Standard Webhooks signing: `whsec_` secrets and the three headers every delivery carries.

The signature is the `standardwebhooks` package's own (HMAC-SHA256 over
`webhook-id.webhook-timestamp.body`, `v1,<base64>`), made anew on each attempt, since
receivers refuse a timestamp older than five minutes. A receiver verifies with the same
package: `Webhook(secret).verify(body, headers)`. While a rotated secret overlaps with the new
one, each attempt carries both signatures, so the receiver may switch secrets at any time.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    """A fresh endpoint secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(keys: list[str], message_id: str, when: datetime, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt of `body` at `when`, signed with each secret (the
    current one, and the previous one while a rotation lets it overlap): space-separated."""
    signatures = " ".join(Webhook(secret).sign(message_id, when, body) for secret in keys)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
        "Content-Type": "application/json",
        "User-Agent": "newsletter-service-webhooks/1",
    }

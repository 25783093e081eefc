"""Which reader and which delivery a notification is about.

In order of trust: the send and reader ids the source knows (a verified VERP address),
the Message-ID (`send-<send>-<reader>@domain`, one per send and reader, see
`sending.personalize.message_id`), then the recipient's address. When the recipient's
address is given and names someone else than the ids do, the ids are not trusted and the
address decides (the delivery is then not known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service.addresses import reader_key
from service.extensions import db
from service.leaving.suppression import suppression_hash
from service.models import Delivery, Send, Subscriber

_MESSAGE_ID = re.compile(r"<?send-(\d{1,18})-(\d{1,18})@[^\s<>]{1,255}>?")


@dataclass
class Found:
    """The reader (if any), their address's suppression hash, and the delivery (if known)."""

    subscriber_id: int | None = None
    email_key: str | None = None
    email_hash: str = ""
    send_id: int | None = None
    delivery_id: int | None = None
    newsletter_id: int | None = None


def ids_from_message_id(message_id: str | None) -> tuple[int, int] | None:
    """(send id, reader id) from one of our Message-IDs, or None."""
    match = _MESSAGE_ID.fullmatch((message_id or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _key(address: str | None) -> str | None:
    if not address:
        return None
    text = address.strip().strip("<>")
    return reader_key(text, allow_smtputf8=True) or (text.lower() if "@" in text else None)


def resolve(event: Any) -> Found:
    """The reader and delivery of `event` (a `feedback.FeedbackEvent`)."""
    key = _key(event.recipient)
    ids: tuple[int, int] | None = None
    if event.send_id is not None and event.subscriber_id is not None:
        ids = (int(event.send_id), int(event.subscriber_id))
    else:
        ids = ids_from_message_id(event.message_id)
    found = Found()
    if ids is not None:
        subscriber = db.session.get(Subscriber, ids[1])
        if subscriber is not None and (key is None or subscriber.email_key == key):
            found.subscriber_id, found.email_key = subscriber.id, subscriber.email_key
            send = db.session.get(Send, ids[0])
            if send is not None:
                found.send_id, found.newsletter_id = send.id, send.newsletter_id
                found.delivery_id = db.session.scalar(
                    select(Delivery.id).where(
                        Delivery.send_id == send.id, Delivery.subscriber_id == subscriber.id
                    )
                )
    if found.subscriber_id is None and key is not None:
        found.email_key = key
        found.subscriber_id = db.session.scalar(
            select(Subscriber.id).where(Subscriber.email_key == key)
        )
    if found.email_key:
        found.email_hash = suppression_hash(found.email_key)
    return found

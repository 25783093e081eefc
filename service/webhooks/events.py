"""The events the service announces, and `emit`, which queues them in the change's transaction.

Event types are registered once here (a duplicate is refused). A capability calls `emit` in
the transaction of the change it reports, before its commit: one outbox job per enabled
endpoint that wants the type, so a change rolled back announces nothing and a committed one
is delivered even if the process dies at once. `data` carries what the event needs and no
more: ids and the newsletter's slug, and a reader's address only where the receiver needs it
to find the reader. A job that names a reader (`subscriber_id`) is dropped if that reader is
erased before it is delivered.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from service import outbox
from service.extensions import db
from service.models import WebhookEndpoint, utcnow
from service.task_names import TaskName

EVENT_TYPES: dict[str, str] = {}


def register(event_type: str, description: str) -> str:
    """Add an event type to the registry; a name registered twice is a programming error."""
    if event_type in EVENT_TYPES:
        raise ValueError(f"event type {event_type!r} is registered twice")
    EVENT_TYPES[event_type] = description
    return event_type


SUBSCRIBER_CONFIRMED = register("subscriber.confirmed", "a reader confirmed newsletters")
SUBSCRIBER_UNSUBSCRIBED = register("subscriber.unsubscribed", "a reader left newsletters")
SUBSCRIBER_BOUNCED = register("subscriber.bounced", "a reader's address bounced for good")
SUBSCRIBER_COMPLAINED = register("subscriber.complained", "a reader reported a newsletter")
SUBSCRIBER_ERASED = register("subscriber.erased", "a reader's personal data was erased")
SEND_STARTED = register("send.started", "a send began to go out")
SEND_FINISHED = register("send.finished", "a send reached every reader")
SEND_PAUSED = register("send.paused", "a send was paused (by ops or by failures)")
SEND_FAILED = register("send.failed", "a send ended with readers it could not reach")


def new_message_id() -> str:
    """A `webhook-id`: unique per event, the same on every retry, so receivers can dedupe."""
    return f"msg_{secrets.token_urlsafe(18)}"


def emit(event_type: str, data: dict[str, Any], *, subscriber_id: int | None = None) -> int:
    """Queue `event_type` for every enabled endpoint that wants it, in the session's
    transaction (commit it to send them); how many deliveries were queued.

    `subscriber_id` names the reader the event is about, so erasing them drops it unsent.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    rows = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(
            WebhookEndpoint.disabled_at.is_(None)
        )
    ).all()
    wanted = [row.id for row in rows if event_type in (row.events or ())]
    if not wanted:
        return 0
    message = {
        "message_id": new_message_id(),
        "type": event_type,
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    if subscriber_id is not None:
        message["subscriber_id"] = subscriber_id
    for endpoint_id in wanted:
        outbox.enqueue(TaskName.DELIVER_WEBHOOK, {**message, "endpoint_id": endpoint_id})
    return len(wanted)


def forget_reader(subscriber_id: int) -> None:
    """Drop every queued event about a reader (erasure), in the session's transaction."""
    outbox.forget(TaskName.DELIVER_WEBHOOK, "subscriber_id", subscriber_id)


def reader_event(
    event_type: str, subscriber: Any, newsletters: list[str], cause: str | None = None
) -> int:
    """Queue a `subscriber.*` event: the reader's id, address (the receiver's key to its own
    records), the newsletters' slugs and the cause; nothing else about them."""
    if not newsletters:
        return 0
    data: dict[str, Any] = {
        "subscriber_id": subscriber.id,
        "email": subscriber.email,
        "newsletters": newsletters,
    }
    if cause:
        data["cause"] = cause
    return emit(event_type, data, subscriber_id=subscriber.id)

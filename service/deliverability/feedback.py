"""The one intake of bounces and complaints: `record_feedback(FeedbackEvent) -> Outcome`.

Every source calls it: the provider hooks (SES, Postmark, SendGrid, Mailgun), the inbound
bounce mail reader (DSN, ARF) and the send itself when the relay refuses a message (smtp).
A notification is one row, unique on (source, provider_event_id): the same one twice finds
its row taken and changes nothing. In one transaction it records the event, acts on the
reader by its class (`actions`), queues the `subscriber.*` webhook and, when the event's
send has passed its limits (`brakes`), queues its pause (`sending.brake`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from service import metrics, outbox
from service.deliverability import actions, brakes, classify, readers
from service.extensions import db, insert_ignoring_conflicts
from service.mail.headers import display_text
from service.models import FeedbackRecord, utcnow
from service.task_names import TaskName

log = logging.getLogger(__name__)

SOURCES = ("ses", "postmark", "sendgrid", "mailgun", "dsn", "arf", "smtp")
MAX_DIAGNOSTIC = 1000


@dataclass(frozen=True)
class FeedbackEvent:
    """One bounce or complaint about one message to one recipient, as a source reported it.

    source: ses | postmark | sendgrid | mailgun | dsn | arf | smtp
    kind: bounce | complaint
    provider_event_id: the source's own id for this notification (the idempotency key);
        two events with the same (source, provider_event_id) act once.
    status: the status code as reported ('5.1.1', '550 5.1.1', 550, or ''); the class comes
        from it (or from a code found in `diagnostic`), never from the provider's label.
    diagnostic: the remote server's text (untrusted; kept as one cut line).
    recipient: the address the message went to, when known.
    message_id: the Message-ID of the message (`<send-12-345@domain>` or without brackets):
        ties the event to its delivery in the ledger.
    send_id, subscriber_id: when the source knows them (a verified VERP address does).
    occurred_at: when it happened (default: now); the soft-bounce window counts on it.
    """

    source: str
    kind: str
    provider_event_id: str
    status: str | int | None = ""
    diagnostic: str = ""
    recipient: str | None = None
    message_id: str | None = None
    send_id: int | None = None
    subscriber_id: int | None = None
    occurred_at: datetime | None = None


@dataclass
class Outcome:
    """What recording an event did.

    created: False when the same notification was recorded before (nothing changed).
    bounce_class: hard | soft | policy | complaint | unknown.
    action: what happened to the reader ('suppressed', 'unsubscribed', 'counted',
        'none', 'duplicate').
    brake: why the event's send must pause (its rates passed the limits); the pause is
        queued with the event (`sending.brake`), None if it may go on.
    """

    created: bool
    bounce_class: str
    action: str
    event_id: int | None = None
    subscriber_id: int | None = None
    send_id: int | None = None
    delivery_id: int | None = None
    brake: str | None = None
    newsletters: list[str] = field(default_factory=list)


def record_feedback(event: FeedbackEvent) -> Outcome:
    """Record one bounce or complaint and act on it once (committed); see the module doc.

    Raises ValueError for an unknown source or kind or an empty provider event id.
    """
    if event.source not in SOURCES:
        raise ValueError(f"unknown feedback source {event.source!r}")
    if event.kind not in classify.KINDS:
        raise ValueError(f"unknown feedback kind {event.kind!r}")
    key = display_text(str(event.provider_event_id or ""), 255)
    if not key:
        raise ValueError("a feedback event needs the provider's event id")
    diagnostic = display_text(event.diagnostic, MAX_DIAGNOSTIC)
    code = classify.status_code(event.status, diagnostic)
    bounce_class = classify.classify(event.kind, code)
    occurred = event.occurred_at or utcnow()
    now = utcnow()
    if occurred > now:
        occurred = now  # a clock ahead of ours does not reach into the future of the window
    found = readers.resolve(event)
    inserted = db.session.execute(
        insert_ignoring_conflicts(FeedbackRecord)
        .values(
            source=event.source,
            provider_event_id=key,
            kind=event.kind,
            bounce_class=bounce_class,
            status_code=code,
            diagnostic=diagnostic,
            email_hash=found.email_hash,
            subscriber_id=found.subscriber_id,
            send_id=found.send_id,
            delivery_id=found.delivery_id,
            message_id=display_text(event.message_id, 255),
            action="",
            occurred_at=occurred,
            received_at=now,
        )
        .returning(FeedbackRecord.id)
    ).scalar()
    if inserted is None:
        db.session.rollback()
        return Outcome(False, bounce_class, "duplicate", None, found.subscriber_id, found.send_id)
    done = actions.act(bounce_class, found, inserted, occurred, diagnostic, code)
    db.session.execute(
        FeedbackRecord.__table__.update()
        .where(FeedbackRecord.__table__.c.id == inserted)
        .values(action=done.action)
    )
    brake = None
    if found.send_id is not None and bounce_class != classify.UNKNOWN:
        brake = brakes.due(found.send_id)
        if brake is not None:
            outbox.enqueue(TaskName.BRAKE_SEND, {"send_id": found.send_id})
    db.session.commit()
    if bounce_class == classify.COMPLAINT:  # the unsubscribes' `complaint` channel
        metrics.unsubscribed(classify.COMPLAINT, done.newsletters)
    outcome = Outcome(
        True,
        bounce_class,
        done.action,
        inserted,
        found.subscriber_id,
        found.send_id,
        found.delivery_id,
        brake=brake,
        newsletters=done.newsletters,
    )
    log.info(
        "feedback %s from %s: %s %s, %s",
        inserted,
        event.source,
        bounce_class,
        code or "-",
        done.action,
    )
    return outcome

"""Subscribers as ops handle them: personal-data export, erasure, CSV import and export.

Erasure deletes every row about a reader and keeps only the SHA-256 of the address key in the
suppression list. Import streams its rows in batches (memory stays flat for big files); a bad
row is reported with its line number and skipped. Imported unconfirmed readers are `pending`
and get no email here: mailing a whole imported list is a campaign to schedule on purpose.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TextIO

from flask import current_app
from sqlalchemy import delete, select

from service import audit, outbox
from service.addresses import InvalidEmail, parse_address, suggest_correction
from service.extensions import db, insert_ignoring_conflicts
from service.leaving.suppression import suppression_hash
from service.models import (
    ConsentRecord,
    Delivery,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.task_names import TaskName

IMPORT_BATCH = 500
READER_ERASED = audit.event("reader.erased", "an operator erased a reader's personal data")
NAME_MAX = 200
EXPORT_COLUMNS = ["email", "name", "status", "locale", "subscribed_at", "confirmed_at"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_subscriber(subscriber: Subscriber) -> dict[str, Any]:
    """All personal data held about a reader: profile, subscriptions, events, consent, deliveries."""
    subscription_ids = [s.id for s in subscriber.subscriptions]
    events = db.session.scalars(
        select(SubscriptionEvent)
        .where(SubscriptionEvent.subscription_id.in_(subscription_ids))
        .order_by(SubscriptionEvent.id)
    )
    consents = db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.subscriber_id == subscriber.id)
        .order_by(ConsentRecord.id)
    )
    deliveries = db.session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
    )
    slugs = {s.id: s.newsletter.slug for s in subscriber.subscriptions}
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "email_ascii": subscriber.email_ascii,
        "name": subscriber.name,
        "locale": subscriber.locale,
        "created_at": _iso(subscriber.created_at),
        "updated_at": _iso(subscriber.updated_at),
        "last_confirmation_sent_at": _iso(subscriber.last_confirmation_sent_at),
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
            }
            for s in subscriber.subscriptions
        ],
        "events": [
            {
                "newsletter": slugs.get(e.subscription_id),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "cause": e.cause,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
        "consent_records": [
            {
                "action": c.action,
                "newsletters": [slug for slug in c.newsletters.split(",") if slug],
                "ip": c.ip,
                "user_agent": c.user_agent,
                "source_url": c.source_url,
                "form": c.form,
                "created_at": _iso(c.created_at),
            }
            for c in consents
        ],
        "deliveries": [
            {"send_id": d.send_id, "status": d.status, "updated_at": _iso(d.updated_at)}
            for d in deliveries
        ],
    }


def erase_subscriber(subscriber: Subscriber, *, actor: audit.Actor | None = None) -> str:
    """Delete everything about a reader; keep only the address hash as an `erased` suppression.

    An existing suppression (a bounce, a manual block) is kept as it is, since it is stronger.
    An operator's erasure (`actor`) is in the audit log by the reader's id only. Returns the
    hash that stays.
    """
    email_hash = suppression_hash(subscriber.email_key)
    subscriber_id = subscriber.id
    subscription_ids = [s.id for s in subscriber.subscriptions]
    if subscription_ids:
        db.session.execute(
            delete(SubscriptionEvent).where(SubscriptionEvent.subscription_id.in_(subscription_ids))
        )
    db.session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id))
    db.session.execute(delete(Delivery).where(Delivery.subscriber_id == subscriber.id))
    outbox.forget_signups(TaskName.APPLY_SIGNUPS, subscriber.email_key)
    outbox.forget_signups(TaskName.SEND_MANAGE_LINK, subscriber.email_key)
    db.session.delete(subscriber)
    db.session.execute(
        insert_ignoring_conflicts(Suppression).values(
            email_hash=email_hash, reason="erased", detail="", created_at=utcnow()
        )
    )
    audit.record(READER_ERASED, actor, f"subscriber:{subscriber_id}")
    db.session.commit()
    return email_hash


@dataclass
class ImportReport:
    """What an import did, by row count; `suspected` were imported but look like typos."""

    subscribed: int = 0
    unchanged: int = 0
    rejected: int = 0
    suspected: int = 0


@dataclass(frozen=True)
class ImportRow:
    """One CSV row: its line number in the file, the address and the optional name.

    `problem` says why the row cannot be read as one (it is then rejected with that reason).
    """

    line: int
    email: Any
    name: Any = None
    problem: str | None = None


def read_csv(stream: TextIO) -> Iterator[ImportRow]:
    """Stream rows from a CSV with an `email` column (and optional `name`); raise ValueError
    if the header has no `email` column.

    A quote that is never closed makes the csv module read the following lines into one
    value; such a row comes with a `problem` naming the lines it swallowed.
    """
    reader = csv.DictReader(stream)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "email" not in columns:
        raise ValueError("the CSV has no 'email' column in its first line")
    reader.fieldnames = columns
    previous_end = reader.line_num
    for record in reader:
        start, end = previous_end + 1, reader.line_num
        previous_end = end
        email, name = record.get("email"), record.get("name")
        if end > start and any(isinstance(v, str) and "\n" in v for v in (email, name)):
            yield ImportRow(
                start,
                email,
                name,
                problem=(
                    f"a quote opened on this line is never closed, so lines {start}-{end} "
                    "were read as one row and none of them was imported; close the quote "
                    "(or remove it) and import the file again"
                ),
            )
            continue
        yield ImportRow(start, email, name)


def import_subscribers(
    rows: Iterable[ImportRow],
    newsletter: Newsletter,
    *,
    confirmed: bool = False,
    on_error: Callable[[int, str], None] | None = None,
    on_warning: Callable[[int, str], None] | None = None,
    batch_size: int = IMPORT_BATCH,
) -> ImportReport:
    """Subscribe each row's address to `newsletter`, a batch per transaction.

    New subscriptions are `confirmed` (with `confirmed=True`: the caller vouches for consent)
    or `pending`. An existing subscription of any status is left alone, so an import never
    re-subscribes a reader who unsubscribed; a suppressed address is rejected. An address
    whose domain looks like a typo of a big provider's (`gmial.com`) is imported, counted in
    `suspected` and reported to `on_warning` with the likely fix.
    """
    report = ImportReport()
    status = SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING
    allow_utf8 = current_app.config.get("SMTPUTF8", False)
    iterator = iter(rows)

    def reject(line: int, reason: str) -> None:
        report.rejected += 1
        if on_error is not None:
            on_error(line, reason)

    while batch := list(islice(iterator, batch_size)):
        parsed: dict[str, tuple[ImportRow, Any, str | None]] = {}
        for row in batch:
            if row.problem:
                reject(row.line, row.problem)
                continue
            try:
                address = parse_address(row.email, allow_smtputf8=allow_utf8)
            except InvalidEmail as exc:
                hint = f" (did you mean {exc.suggestion}?)" if exc.suggestion else ""
                reject(row.line, f"{row.email!r}: {exc.reason}{hint}")
                continue
            if address.key in parsed:
                reject(row.line, f"{row.email!r}: duplicate of line {parsed[address.key][0].line}")
                continue
            parsed[address.key] = (row, address, _clean_name(row.name))
            likely = suggest_correction(address.display)
            if likely:
                report.suspected += 1
                if on_warning is not None:
                    on_warning(
                        row.line, f"{row.email!r} looks like a typo of {likely} (kept as typed)"
                    )
        _import_batch(parsed, newsletter, status, report, reject)
    return report


def _clean_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return (
        " ".join("".join(c if c.isprintable() else " " for c in value).split())[:NAME_MAX] or None
    )


def _import_batch(
    parsed: dict[str, tuple[ImportRow, Any, str | None]],
    newsletter: Newsletter,
    status: str,
    report: ImportReport,
    reject: Callable[[int, str], None],
) -> None:
    if not parsed:
        return
    hashes = {suppression_hash(key): key for key in parsed}
    for email_hash in db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(hashes)))
    ):
        row = parsed.pop(hashes[email_hash])[0]
        reject(row.line, f"{row.email!r}: on the suppression list")
    if not parsed:
        return
    now = utcnow()
    db.session.execute(
        insert_ignoring_conflicts(Subscriber),
        [
            {
                "email": address.display,
                "email_ascii": address.ascii,
                "email_key": key,
                "smtputf8": address.smtputf8,
                "name": name,
                "locale": "en",
                "state_version": 0,
                "created_at": now,
                "updated_at": now,
            }
            for key, (_, address, name) in parsed.items()
        ],
    )
    ids = dict(
        db.session.execute(
            select(Subscriber.email_key, Subscriber.id).where(
                Subscriber.email_key.in_(list(parsed))
            )
        ).all()
    )
    already = set(
        db.session.scalars(
            select(Subscription.subscriber_id).where(
                Subscription.newsletter_id == newsletter.id,
                Subscription.subscriber_id.in_(list(ids.values())),
            )
        )
    )
    fresh = [key for key in parsed if ids[key] not in already]
    report.unchanged += len(parsed) - len(fresh)
    if fresh:
        db.session.execute(
            insert_ignoring_conflicts(Subscription),
            [
                {
                    "subscriber_id": ids[key],
                    "newsletter_id": newsletter.id,
                    "status": status,
                    "created_at": now,
                    "confirmed_at": now if status == SubscriptionStatus.CONFIRMED else None,
                    "updated_at": now,
                }
                for key in fresh
            ],
        )
        subscription_ids = db.session.scalars(
            select(Subscription.id).where(
                Subscription.newsletter_id == newsletter.id,
                Subscription.subscriber_id.in_([ids[key] for key in fresh]),
            )
        ).all()
        db.session.execute(
            insert_ignoring_conflicts(SubscriptionEvent),
            [
                {
                    "subscription_id": sid,
                    "from_status": None,
                    "to_status": status,
                    "cause": "import",
                    "created_at": now,
                }
                for sid in subscription_ids
            ],
        )
        db.session.execute(
            insert_ignoring_conflicts(ConsentRecord),
            [
                {
                    "subscriber_id": ids[key],
                    "action": "import",
                    "newsletters": newsletter.slug,
                    "form": "csv-import",
                    "created_at": now,
                }
                for key in fresh
            ],
        )
        report.subscribed += len(fresh)
    db.session.commit()


def export_rows(newsletter: Newsletter, status: str | None = None) -> Iterator[list[str]]:
    """The CSV rows (header first) of a newsletter's subscribers, streamed in id order."""
    yield EXPORT_COLUMNS
    query = (
        select(Subscriber, Subscription)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.newsletter_id == newsletter.id)
        .order_by(Subscriber.id)
        .execution_options(yield_per=1000)
    )
    if status:
        query = query.where(Subscription.status == status)
    for subscriber, subscription in db.session.execute(query):
        yield [
            subscriber.email,
            subscriber.name or "",
            subscription.status,
            subscriber.locale,
            _iso(subscription.created_at) or "",
            _iso(subscription.confirmed_at) or "",
        ]

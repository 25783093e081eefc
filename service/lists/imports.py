"""Importing a list of readers into a newsletter, with the consent choice made explicit.

Staff say what the readers of a list agreed to, one of three ways (`ImportMode`):
- `send-confirmation`: each reader is pending and gets the confirmation email (double
  opt-in, as a signup on the site); only their click makes them confirmed;
- `confirmed`: staff hold the readers' consent and say where it came from (`consent`,
  kept on each subscription as `consent_source`); they are mailed from the next send;
- `pending`: stored and mailed nothing (to confirm or mail later; the pending purge
  removes them after `PENDING_EXPIRY_DAYS`).

A re-import moves readers on: a pending reader becomes confirmed (with the consent source)
or is sent the confirmation email; a confirmed reader stays as is; a reader who unsubscribed
or bounced is never subscribed again, and a suppressed address is rejected. Rows stream in
batches, one transaction each, so memory stays flat for big files.

Only what a batch wrote is counted (daily figures, readers by status) and recorded: a
subscription a concurrent import or signup made first, or a pending reader it confirmed first,
is taken as found, so two imports of the same readers at once count them once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from service import daily, outbox, reader_mail
from service.addresses import InvalidEmail, parse_address, suggest_correction
from service.extensions import db, insert_ignoring_conflicts
from service.leaving.suppression import suppression_hash
from service.lists.csv_rows import ImportRow
from service.models import (
    ConsentRecord,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.sources import tally as page_tally
from service.task_names import TaskName

IMPORT_BATCH = 500
NAME_MAX = 200
CONSENT_MAX = 500
PENDING = SubscriptionStatus.PENDING
CONFIRMED = SubscriptionStatus.CONFIRMED
_LEFT = {SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED}


class ImportMode(StrEnum):
    """What the readers of an imported list agreed to, as staff say it."""

    SEND_CONFIRMATION = "send-confirmation"
    CONFIRMED = "confirmed"
    PENDING = "pending"


@dataclass
class ImportReport:
    """What an import did, by row count.

    `subscribed`: new subscriptions; `confirmed`: pending readers this import confirmed;
    `confirmations_sent`: confirmation emails queued; `unchanged`: already on the list in a
    status the import leaves alone (`left` of them unsubscribed or bounced); `suspected`:
    imported but look like typos.
    """

    subscribed: int = 0
    confirmed: int = 0
    confirmations_sent: int = 0
    unchanged: int = 0
    left: int = 0
    rejected: int = 0
    suspected: int = 0


def import_subscribers(
    rows: Iterable[ImportRow],
    newsletter: Newsletter,
    *,
    mode: ImportMode = ImportMode.PENDING,
    consent: str | None = None,
    on_error: Callable[[int, str], None] | None = None,
    on_warning: Callable[[int, str], None] | None = None,
    batch_size: int = IMPORT_BATCH,
) -> ImportReport:
    """Subscribe each row's address to `newsletter` as `mode` says, a batch per transaction.

    `consent` (required for `confirmed`) says where the readers' consent came from. An
    address whose domain looks like a typo of a big provider's (`gmial.com`) is imported,
    counted in `suspected` and reported to `on_warning` with the likely fix; a bad row is
    reported to `on_error` with its line and skipped.
    """
    mode = ImportMode(mode)
    consent = " ".join((consent or "").split())[:CONSENT_MAX] or None
    if mode == ImportMode.CONFIRMED and consent is None:
        raise ValueError("a confirmed import needs the source of the readers' consent")
    report = ImportReport()
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
        _Batch(newsletter, mode, consent, report).run(parsed, reject)
    return report


def _clean_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return (
        " ".join("".join(c if c.isprintable() else " " for c in value).split())[:NAME_MAX] or None
    )


@dataclass
class _Batch:
    """One batch of parsed rows written in one transaction."""

    newsletter: Newsletter
    mode: ImportMode
    consent: str | None
    report: ImportReport
    now: datetime = field(default_factory=utcnow)

    def run(
        self,
        parsed: dict[str, tuple[ImportRow, Any, str | None]],
        reject: Callable[[int, str], None],
    ) -> None:
        hashes = {suppression_hash(key): key for key in parsed}
        if hashes:
            for email_hash in db.session.scalars(
                select(Suppression.email_hash).where(Suppression.email_hash.in_(list(hashes)))
            ):
                row = parsed.pop(hashes[email_hash])[0]
                reject(row.line, f"{row.email!r}: on the suppression list")
        if not parsed:
            return
        ids = self._subscriber_ids(parsed)
        existing = self._subscriptions(list(ids.values()))
        fresh = [ids[key] for key in parsed if ids[key] not in existing]
        if fresh:
            made = self._subscribe(fresh)
            # A concurrent import or signup subscribed the others first (their insert was
            # skipped): they are on the list now, and taken as this batch finds them.
            existing |= self._subscriptions([sid for sid in fresh if sid not in made])
            fresh = [sid for sid in fresh if sid in made]
        pending = {sid: sub_id for sid, (sub_id, status) in existing.items() if status == PENDING}
        self.report.left += sum(status in _LEFT for _, status in existing.values())
        if self.mode == ImportMode.CONFIRMED and pending:
            # one a concurrent import confirmed first is left as it is now
            self.report.unchanged += len(pending) - self._confirm(pending)
        else:
            self.report.unchanged += len(pending)
        self.report.unchanged += len(existing) - len(pending)
        if self.mode == ImportMode.SEND_CONFIRMATION:
            self._queue_confirmations(fresh + list(pending))
        db.session.commit()

    def _subscriptions(self, subscriber_ids: list[int]) -> dict[int, tuple[int, str]]:
        """The readers' subscriptions to the newsletter: subscriber id -> (id, status)."""
        if not subscriber_ids:
            return {}
        rows = db.session.execute(
            select(Subscription.id, Subscription.subscriber_id, Subscription.status).where(
                Subscription.newsletter_id == self.newsletter.id,
                Subscription.subscriber_id.in_(subscriber_ids),
            )
        )
        return {subscriber_id: (sub_id, status) for sub_id, subscriber_id, status in rows}

    def _subscriber_ids(self, parsed: dict[str, tuple[ImportRow, Any, str | None]]) -> dict:
        """Insert the readers not known yet; the id of every reader of the batch by key."""
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
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for key, (_, address, name) in parsed.items()
            ],
        )
        return dict(
            db.session.execute(
                select(Subscriber.email_key, Subscriber.id).where(
                    Subscriber.email_key.in_(list(parsed))
                )
            ).all()
        )

    def _subscribe(self, subscriber_ids: list[int]) -> set[int]:
        """Subscribe the readers; the ids of those subscribed here. Only the subscriptions
        this insert made are counted and recorded: one a concurrent import or signup made
        first is skipped (the insert returns only the rows it wrote)."""
        confirmed = self.mode == ImportMode.CONFIRMED
        status = CONFIRMED if confirmed else PENDING
        made = db.session.execute(
            insert_ignoring_conflicts(Subscription).returning(
                Subscription.id, Subscription.subscriber_id
            ),
            [
                {
                    "subscriber_id": sid,
                    "newsletter_id": self.newsletter.id,
                    "status": status,
                    "created_at": self.now,
                    "confirmed_at": self.now if confirmed else None,
                    "consent_source": self.consent if confirmed else None,
                    "updated_at": self.now,
                }
                for sid in subscriber_ids
            ],
        ).all()
        self._record([sid for _, sid in made], {sub_id: None for sub_id, _ in made}, status)
        self.report.subscribed += len(made)
        return {sid for _, sid in made}

    def _confirm(self, subscriptions: dict[int, int]) -> int:
        """Pending readers (subscriber id -> subscription id) become confirmed, with the source
        (counted for the page each signed up on, `service.sources`); how many it moved. Only
        those still pending move and count: a concurrent import may have confirmed some."""
        moved = db.session.execute(
            update(Subscription)
            .where(
                Subscription.id.in_(list(subscriptions.values())),
                Subscription.status == PENDING,
            )
            .values(
                status=CONFIRMED,
                confirmed_at=self.now,
                consent_source=self.consent,
                updated_at=self.now,
            )
            .returning(Subscription.id, Subscription.subscriber_id, Subscription.signup_page)
        ).all()
        signup_pages = [page for _, _, page in moved if page is not None]
        page_tally.confirmed(db.session(), self.newsletter.id, signup_pages, self.now)
        # The readers' state_version stays: a confirmation link they hold for another
        # newsletter still confirms that one.
        self._record(
            [sid for _, sid, _ in moved], {sub_id: PENDING for sub_id, _, _ in moved}, CONFIRMED
        )
        self.report.confirmed += len(moved)
        return len(moved)

    def _record(self, subscriber_ids: list[int], moves: dict[int, str | None], to: str) -> None:
        """The events of the subscriptions moved (id -> previous status) and the consent records."""
        if not moves:
            return
        daily.tally_moves(
            daily.session_tally(db.session()), self.newsletter.id, moves.values(), to, self.now
        )
        db.session.execute(
            insert_ignoring_conflicts(SubscriptionEvent),
            [
                {
                    "subscription_id": subscription_id,
                    "from_status": previous,
                    "to_status": to,
                    "cause": "import",
                    "created_at": self.now,
                }
                for subscription_id, previous in moves.items()
            ],
        )
        db.session.execute(
            insert_ignoring_conflicts(ConsentRecord),
            [
                {
                    "subscriber_id": sid,
                    "action": "import",
                    "newsletters": self.newsletter.slug,
                    "form": "csv-import",
                    "created_at": self.now,
                }
                for sid in subscriber_ids
            ],
        )

    def _queue_confirmations(self, subscriber_ids: list[int]) -> None:
        """A confirmation email for each reader, at most one per cooldown (`service.reader_mail`;
        one bulk claim for the batch)."""
        if not subscriber_ids:
            return
        pause = reader_mail.cooldown()
        due = db.session.scalars(
            select(Subscriber.id).where(
                Subscriber.id.in_(subscriber_ids),
                or_(
                    Subscriber.last_confirmation_sent_at.is_(None),
                    Subscriber.last_confirmation_sent_at < self.now - pause,
                ),
            )
        ).all()
        if not due:
            return
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(due))
            .values(last_confirmation_sent_at=self.now)
        )
        for subscriber_id in due:
            outbox.enqueue(TaskName.SEND_CONFIRMATION, {"subscriber_id": subscriber_id})
        self.report.confirmations_sent += len(due)

"""Sends come from two places: a newsletter's cron schedule (evaluated by beat) and ops.

A newsletter has at most one active (scheduled, sending or paused) send: a partial unique
index on `sends.newsletter_id` (migration 0005) makes the database refuse a second, so two
`digest send` at once, from any processes, make one send and `create_send` raises
`SendInProgress` naming the other.

`create_cron_sends` makes at most one send per newsletter and cron slot, whatever the number
of beat processes: the slot's key is unique per newsletter (`sends.newsletter_id, slot_key`)
and the insert skips a duplicate. A slot that comes while another send of the newsletter is
active is skipped for good: it is logged and recorded as a `skipped` send naming the other
(the articles it would have carried go out with the next slot). `tick` (beat, every
`SEND_TICK_SECONDS`) makes the due cron sends, starts every scheduled send whose time has
come, and runs the watchdog.

A stored schedule that is not a five-field cron (`service.lists.newsletters.valid_cron`) is logged
and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import audit, reader_counts
from service.extensions import db, insert_ignoring_conflicts
from service.lists.newsletters import CRON_FIELDS, valid_cron
from service.models import Newsletter, Send, SendStatus, SubscriptionStatus, utcnow
from service.models.send import ACTIVE_STATUSES
from service.sending import setting
from service.sending.lifecycle import publish
from service.sending.watchdog import watchdog
from service.task_names import TaskName

log = logging.getLogger(__name__)


# A time this far in the past is still taken as "now" (a clock's skew, a slow typist).
PAST_GRACE = timedelta(minutes=1)
SEND_STARTED = audit.event("send.started", "an operator started a send, now or at a time")


class SendInProgress(RuntimeError):
    """The newsletter already has an active send; `send` is that one."""

    def __init__(self, send: Send):
        super().__init__(
            f"send {send.id} of this newsletter is {send.status} "
            f"(scheduled for {send.scheduled_at:%Y-%m-%d %H:%M} UTC)"
        )
        self.send = send


class NoRecipients(RuntimeError):
    """The newsletter has no confirmed reader: a send would mail nobody and use up its articles.

    `pending` is how many readers are waiting to confirm (an import kept pending, say).
    """

    def __init__(self, newsletter: Newsletter, pending: int):
        reason = f"newsletter {newsletter.slug!r} has no confirmed reader"
        if pending:
            reason += (
                f" ({pending} pending: they get nothing until they confirm; an imported list "
                "is moved on by importing it again with --send-confirmation or "
                "--confirmed --consent TEXT)"
            )
        super().__init__(reason + "; nothing was sent and no article was used up")
        self.pending = pending


class InvalidTime(ValueError):
    """A send time that cannot be read, or lies in the past; the message says what to type."""


def active_send(newsletter_id: int) -> Send | None:
    """The newsletter's scheduled, sending or paused send, if any (there is at most one)."""
    return db.session.scalar(
        select(Send).where(
            Send.newsletter_id == newsletter_id,
            Send.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
    )


def parse_when(value: object, timezone: str, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 send time, or None (absent or empty: now); raises InvalidTime.

    A time without a zone is read in the newsletter's `timezone`. A time more than a minute
    in the past is refused: to send now, give no time.
    """
    if value is None or value == "":
        return None
    zone = ZoneInfo(timezone or "UTC")
    example = f"e.g. 2026-12-01T07:00 (read in {zone.key}) or 2026-12-01T07:00+02:00"
    if not isinstance(value, str):
        raise InvalidTime(f"an ISO 8601 time is needed, {example}")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTime(f"{value!r} is not an ISO 8601 time; {example}") from None
    when = when if when.tzinfo else when.replace(tzinfo=zone)
    now = now or utcnow()
    if when < now - PAST_GRACE:
        raise InvalidTime(
            f"{when.isoformat()} is in the past (now: {now.astimezone(zone):%Y-%m-%d %H:%M} "
            f"{zone.key}); give a later time, or none to send now"
        )
    return when


def readers_by_status(newsletter_id: int) -> dict[str, int]:
    """How many readers the newsletter has in each subscription status (statuses with none
    left out): the exact counts kept with every change (`service.reader_counts`)."""
    return reader_counts.readers_by_status(db.session(), newsletter_id)


def create_send(
    newsletter: Newsletter,
    scheduled_at: datetime | None = None,
    *,
    actor: audit.Actor | None = None,
) -> Send:
    """A one-off send of `newsletter` at `scheduled_at` (now if None); starts it if due.

    Raises NoRecipients if the newsletter has no confirmed reader (nothing is stored), and
    SendInProgress if it already has an active send: the database's unique index decides,
    so of two concurrent calls exactly one makes a send. An operator's send (`actor`) is in
    the audit log, written with the send.
    """
    newsletter_id = newsletter.id
    slug = newsletter.slug
    readers = readers_by_status(newsletter_id)
    if not readers.get(SubscriptionStatus.CONFIRMED):
        db.session.commit()
        raise NoRecipients(newsletter, readers.get(SubscriptionStatus.PENDING, 0))
    when = (scheduled_at or utcnow()).astimezone(UTC)
    for _ in range(3):  # the other send may end between our INSERT and our look at it
        send = Send(newsletter_id=newsletter_id, status=SendStatus.SCHEDULED, scheduled_at=when)
        db.session.add(send)
        try:
            db.session.flush()
            audit.record(
                SEND_STARTED, actor, f"send:{send.id}", newsletter=slug, at=when.isoformat()
            )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            other = active_send(newsletter_id)
            db.session.commit()
            if other is not None:
                raise SendInProgress(other) from None
            continue
        if when <= utcnow():
            publish_start(send.id)
        return send
    raise RuntimeError(f"newsletter {newsletter_id}: could not create a send")


def publish_start(send_id: int) -> None:
    """Ask a worker to start send `send_id`; if the broker is down, beat's tick will."""
    publish(TaskName.START_SEND, send_id)


def last_slot(cron: str, timezone: str, now: datetime) -> datetime:
    """The most recent time at or before `now` that `cron` (in `timezone`) names, in UTC."""
    local_now = now.astimezone(ZoneInfo(timezone))
    if croniter.match(cron, local_now.replace(second=0, microsecond=0)):
        return local_now.replace(second=0, microsecond=0).astimezone(UTC)
    return croniter(cron, local_now).get_prev(datetime).astimezone(UTC)


def create_cron_sends(now: datetime | None = None, only: Sequence[int] | None = None) -> int:
    """Create the send of each newsletter's latest cron slot, once; return how many were new.

    `only` limits it to some newsletter ids.
    """
    now = now or utcnow()
    catchup = timedelta(seconds=setting("SEND_SCHEDULE_CATCHUP_SECONDS"))
    created = 0
    query = (
        select(Newsletter.id, Newsletter.schedule_cron, Newsletter.timezone, Newsletter.created_at)
        .where(Newsletter.schedule_cron.is_not(None), Newsletter.schedule_cron != "")
        .where(Newsletter.archived.is_(False))  # an archived newsletter sends nothing
        .order_by(Newsletter.id)
    )
    if only is not None:
        query = query.where(Newsletter.id.in_(list(only)))
    newsletters = db.session.execute(query).all()
    for newsletter_id, cron, timezone, created_at in newsletters:
        try:
            if not valid_cron(cron):
                raise ValueError(f"not a {CRON_FIELDS}-field cron expression")
            slot = last_slot(cron, timezone or "UTC", now)
        except (ValueError, KeyError) as exc:
            log.warning("newsletter %s: bad schedule %r: %s", newsletter_id, cron, exc)
            continue
        if slot < now - catchup or slot < created_at:
            continue
        inserted = db.session.execute(
            insert_ignoring_conflicts(Send)
            .values(
                newsletter_id=newsletter_id,
                slot_key=slot.strftime("%Y-%m-%dT%H:%MZ"),
                status=SendStatus.SCHEDULED,
                scheduled_at=slot,
            )
            .returning(Send.id)
        ).first()
        if inserted is not None:
            created += 1
        else:
            _skip_if_blocked(newsletter_id, slot)
    db.session.commit()
    return created


def _skip_if_blocked(newsletter_id: int, slot: datetime) -> None:
    """A slot whose insert was ignored: a duplicate (nothing to do) or blocked by an active send.

    A blocked slot is logged and recorded as a `skipped` send, so later ticks do not retry it.
    """
    slot_key = slot.strftime("%Y-%m-%dT%H:%MZ")
    exists = db.session.scalar(
        select(Send.id).where(Send.newsletter_id == newsletter_id, Send.slot_key == slot_key)
    )
    other = None if exists is not None else active_send(newsletter_id)
    if other is None:
        return
    reason = f"cron slot skipped: send {other.id} was {other.status}"
    log.warning("newsletter %s: %s %s", newsletter_id, slot_key, reason)
    db.session.execute(
        insert_ignoring_conflicts(Send).values(
            newsletter_id=newsletter_id,
            slot_key=slot_key,
            status=SendStatus.SKIPPED,
            status_reason=reason,
            scheduled_at=slot,
            finished_at=utcnow(),
        )
    )


def start_due(now: datetime | None = None, limit: int = 100) -> int:
    """Dispatch the start of every scheduled send whose time has come; return how many."""
    due = db.session.scalars(
        select(Send.id)
        .where(Send.status == SendStatus.SCHEDULED, Send.scheduled_at <= (now or utcnow()))
        .order_by(Send.scheduled_at)
        .limit(limit)
    ).all()
    db.session.commit()
    for send_id in due:
        publish_start(send_id)
    return len(due)


def tick() -> dict[str, int]:
    """Beat's periodic job: cron sends, due sends, and the watchdog."""
    return {
        "created": create_cron_sends(),
        "started": start_due(),
        "republished": watchdog(),
    }

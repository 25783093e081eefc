"""Sends come from two places: a newsletter's cron schedule (evaluated by beat) and ops.

`create_cron_sends` makes at most one send per newsletter and cron slot, whatever the number
of beat processes: the slot's key is unique per newsletter (`sends.newsletter_id, slot_key`)
and the insert skips a duplicate. `tick` (beat, every `SEND_TICK_SECONDS`) makes the due cron
sends, starts every scheduled send whose time has come, and runs the watchdog.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select

from service.extensions import db, insert_ignoring_conflicts
from service.models import Newsletter, Send, SendStatus, utcnow
from service.sending import START_TASK, setting
from service.sending.lifecycle import publish
from service.sending.watchdog import watchdog

log = logging.getLogger(__name__)


def create_send(newsletter: Newsletter, scheduled_at: datetime | None = None) -> Send:
    """A one-off send of `newsletter` at `scheduled_at` (now if None); starts it if due."""
    when = (scheduled_at or utcnow()).astimezone(UTC)
    send = Send(newsletter_id=newsletter.id, status=SendStatus.SCHEDULED, scheduled_at=when)
    db.session.add(send)
    db.session.commit()
    if when <= utcnow():
        dispatch_start(send.id)
    return send


def dispatch_start(send_id: int) -> None:
    """Ask a worker to start send `send_id`; if the broker is down, beat's tick will."""
    publish(START_TASK, send_id)


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
        .order_by(Newsletter.id)
    )
    if only is not None:
        query = query.where(Newsletter.id.in_(list(only)))
    newsletters = db.session.execute(query).all()
    for newsletter_id, cron, timezone, created_at in newsletters:
        try:
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
        created += inserted is not None
    db.session.commit()
    return created


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
        dispatch_start(send_id)
    return len(due)


def tick() -> dict[str, int]:
    """Beat's periodic job: cron sends, due sends, and the watchdog."""
    return {
        "created": create_cron_sends(),
        "started": start_due(),
        "redispatched": watchdog(),
    }

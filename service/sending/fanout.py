"""Start a send and plan its batches.

Starting freezes the content on the row and fixes the recipient set (`max_subscriber_id`:
later subscribers wait for the next send). A send with no confirmed reader, or too few new
articles, is skipped instead and uses up nothing. Planning walks the confirmed subscriptions in id
order with keyset pagination, holding only one page of ids at a time, and cuts them into
leased `SendBatch` rows of `SEND_BATCH_SIZE`; `checkpoint_subscriber_id` records how far it
got, so a planner whose worker died is resumed by the watchdog where it stopped.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from service.database import retry_if_dropped
from service.extensions import db, insert_ignoring_conflicts
from service.models import (
    BatchStatus,
    Newsletter,
    Send,
    SendBatch,
    SendStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from service.sending import setting
from service.sending.content import compose_content
from service.sending.lifecycle import announce, finish_if_complete, publish
from service.sending.watchdog import queued_until
from service.task_names import TaskName
from service.webhooks import events

log = logging.getLogger(__name__)


def view_url(send: Send, newsletter: Newsletter) -> str:
    """Where a reader can read this send in a browser."""
    return f"{current_app.config['PUBLIC_URL']}/archive/{newsletter.slug}/{send.id}"


def start_send(send_id: int) -> bool:
    """Start a due scheduled send: freeze content and recipients. True if this call started it."""
    send = db.session.get(Send, send_id)
    now = utcnow()
    if send is None or send.status != SendStatus.SCHEDULED or send.scheduled_at > now:
        return False
    newsletter = db.session.get(Newsletter, send.newsletter_id)
    max_id = db.session.scalar(select(func.max(Subscriber.id))) or 0
    total = db.session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.newsletter_id == send.newsletter_id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
            Subscription.subscriber_id <= max_id,
        )
    )
    # A skipped send never starts: its articles stay for the next send.
    content = None
    if newsletter.archived:
        reason = "the newsletter is archived"
    elif not total:
        reason = "no confirmed reader: nobody to mail"
    else:
        content, reason = compose_content(newsletter, view_url=view_url(send, newsletter), now=now)
    if content is None:
        values = {"status": SendStatus.SKIPPED, "finished_at": now, "status_reason": reason}
    else:
        values = {
            "status": SendStatus.SENDING,
            "started_at": now,
            "subject": content.rendered.subject,
            "body_text": content.rendered.text,
            "body_html": content.rendered.html,
            "content": content.data,
            "max_subscriber_id": max_id,
            "checkpoint_subscriber_id": 0,
            "total": total,
            "lease_until": now + timedelta(seconds=setting("SEND_LEASE_SECONDS")),
            "status_reason": reason,  # the articles left out, if any
        }
    db.session.expire(send)
    claimed = db.session.execute(
        update(Send).where(Send.id == send_id, Send.status == SendStatus.SCHEDULED).values(**values)
    )
    if claimed.rowcount == 1 and values["status"] == SendStatus.SENDING:
        announce(send_id, events.SEND_STARTED)
    db.session.commit()
    if claimed.rowcount != 1:
        return False
    log.info("send %s started: %s", send_id, values["status"], extra={"send_id": send_id})
    return values["status"] == SendStatus.SENDING


def claim_planner(send_id: int) -> bool:
    """Take the planner lease of a sending send whose plan is unfinished; True if ours."""
    now = utcnow()
    result = db.session.execute(
        update(Send)
        .where(
            Send.id == send_id,
            Send.status == SendStatus.SENDING,
            Send.checkpoint_subscriber_id < Send.max_subscriber_id,
            or_(Send.lease_until.is_(None), Send.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=setting("SEND_LEASE_SECONDS")))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def plan_send(send_id: int) -> int:
    """Cut the send's recipients into batches from its checkpoint on; return batches made.

    A database connection dropped on the way costs a retry from the checkpoint.
    """
    return retry_if_dropped(lambda: _plan(send_id))


def _plan(send_id: int) -> int:
    made = 0
    size = int(setting("SEND_BATCH_SIZE"))
    lease = timedelta(seconds=setting("SEND_LEASE_SECONDS"))
    while True:  # only the columns planning needs: the row also holds the whole content
        send = db.session.execute(
            select(
                Send.status,
                Send.newsletter_id,
                Send.checkpoint_subscriber_id,
                Send.max_subscriber_id,
            ).where(Send.id == send_id)
        ).first()
        if send is None or send.status != SendStatus.SENDING:
            break
        after, max_id = send.checkpoint_subscriber_id, send.max_subscriber_id or 0
        if after >= max_id:
            break
        ids = db.session.scalars(
            select(Subscription.subscriber_id)
            .where(
                Subscription.newsletter_id == send.newsletter_id,
                Subscription.status == SubscriptionStatus.CONFIRMED,
                Subscription.subscriber_id > after,
                Subscription.subscriber_id <= max_id,
            )
            .order_by(Subscription.subscriber_id)
            .limit(size)
        ).all()
        upto = ids[-1] if len(ids) == size else max_id
        now = utcnow()
        if ids:
            db.session.execute(
                insert_ignoring_conflicts(SendBatch).values(
                    send_id=send_id,
                    after_id=after,
                    upto_id=upto,
                    status=BatchStatus.PENDING,
                    attempts=0,
                    lease_until=queued_until(),  # in the broker's queue (see `watchdog`)
                    created_at=now,
                )
            )
        db.session.execute(
            update(Send)
            .where(Send.id == send_id)
            .values(checkpoint_subscriber_id=upto, lease_until=now + lease)
        )
        db.session.commit()
        if ids:
            batch_id = db.session.scalar(
                select(SendBatch.id).where(
                    SendBatch.send_id == send_id, SendBatch.after_id == after
                )
            )
            publish_batch(batch_id)
            made += 1
    db.session.commit()
    finish_if_complete(send_id)
    return made


def publish_batch(batch_id: int) -> None:
    """Hand batch `batch_id` to the broker; if it is down, the watchdog retries later."""
    publish(TaskName.SEND_BATCH, batch_id)

""" "Manage my subscriptions": a reader asks by address and is mailed a preference link.

The web request does the same work for every address, known or not (one outbox row naming
the normalised address), so neither its answer nor its timing tells whether the address is a
reader's. A worker then looks the address up: an unknown address, a dead or banned one (a hard
suppression), or a reader mailed a manage link within the cooldown (`service.reader_mail`)
gets nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service import outbox, reader_mail
from service.addresses import Address
from service.extensions import db
from service.leaving import suppression
from service.leaving.links import preferences_token, preferences_url
from service.mail import send_transactional
from service.models import Subscriber, utcnow
from service.task_names import TaskName


def request_manage_link(address: Address, locale: str) -> None:
    """Hand the request to a worker: one stored job, whatever the address."""
    outbox.enqueue_now(TaskName.SEND_MANAGE_LINK, {"email_key": address.key, "locale": locale})


def send_manage_link(payload: dict[str, Any]) -> None:
    """Mail the preference link a `request_manage_link` job asks for, if it is due (a worker).

    A job queued before the lookup moved here names its reader by `subscriber_id` instead.
    """
    if "subscriber_id" in payload:
        subscriber = db.session.get(Subscriber, payload["subscriber_id"])
    else:
        key = payload.get("email_key")
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == key))
    if subscriber is None or suppression.reason(subscriber.email_key) in suppression.HARD_REASONS:
        db.session.rollback()
        return
    now = utcnow()
    if not reader_mail.claim(db.session, subscriber.id, reader_mail.MANAGE_LINK, now):
        db.session.rollback()
        return
    db.session.commit()  # claimed: a concurrent job for this reader now sends nothing
    try:
        send_manage_link_email(subscriber.id, payload.get("locale"))
    except Exception:  # not sent: give the claim back, so the job's retry can send it
        db.session.rollback()
        reader_mail.release(db.session, subscriber.id, reader_mail.MANAGE_LINK, now)
        db.session.commit()
        raise


def send_manage_link_email(subscriber_id: int, locale: str | None = None) -> None:
    """Render and send the preference-link email to `subscriber_id`."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    send_transactional(
        "manage-link",
        subscriber,
        locale=locale or subscriber.locale,
        preferences_url=preferences_url(preferences_token(subscriber.id)),
    )

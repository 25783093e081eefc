""" "Manage my subscriptions": a reader asks by address and is mailed a preference link.

The answer is the same whether the address is known or not, so nothing can be learnt by
asking; a dead or banned address (a hard suppression) is never mailed.
"""

from __future__ import annotations

from sqlalchemy import select

from service import outbox
from service.addresses import Address
from service.extensions import db
from service.leaving import suppression
from service.leaving.links import preferences_token, preferences_url
from service.mail import send_transactional
from service.models import Subscriber
from service.task_names import TaskName


def request_manage_link(address: Address, locale: str) -> None:
    """Queue an email with a preference link if the address is known; silent otherwise."""
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    if subscriber is None or suppression.reason(subscriber.email_key) in suppression.HARD_REASONS:
        return
    outbox.enqueue(TaskName.SEND_MANAGE_LINK, {"subscriber_id": subscriber.id, "locale": locale})
    db.session.commit()


def send_manage_link_email(subscriber_id: int, locale: str | None = None) -> None:
    """Render and send the preference-link email to `subscriber_id` (run by a worker)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    send_transactional(
        "manage-link",
        subscriber,
        locale=locale or subscriber.locale,
        preferences_url=preferences_url(preferences_token(subscriber.id)),
    )

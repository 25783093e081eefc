"""Deleting a newsletter: only one that never mattered to anyone can go; the rest are archived.

A newsletter can be deleted while it has no confirmed reader and no send that started: then
nothing of value goes with it (its pending and former subscriptions, and sends that never
started, are deleted too). Otherwise deleting would drop readers' consent history, the
delivery ledger and the public archive, so it is refused and the newsletter is archived
instead (`archived: true`: no sends, on no public page, no new signups, readers kept).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from service import audit
from service.extensions import db
from service.lists import newsletter_index
from service.models import Newsletter, Send, Subscription, SubscriptionStatus

NEWSLETTER_DELETED = audit.event("newsletter.deleted", "an operator deleted a newsletter")


class NewsletterInUse(ValueError):
    """The newsletter has confirmed readers or sends that started: archive it instead."""

    def __init__(self, slug: str, readers: int, sends: int):
        self.readers, self.sends = readers, sends
        super().__init__(
            f"{slug} has {readers} confirmed reader(s) and {sends} send(s) that started; "
            "archive it instead (archived: true keeps its readers and archive, sends nothing)"
        )


def delete_newsletter(newsletter: Newsletter, *, actor: audit.Actor | None = None) -> None:
    """Delete a newsletter nobody confirmed and nothing was sent from; raise NewsletterInUse.
    An operator's deletion (`actor`) is in the audit log."""
    readers = db.session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.CONFIRMED,
        )
    )
    sends = db.session.scalar(
        select(func.count())
        .select_from(Send)
        .where(Send.newsletter_id == newsletter.id, Send.started_at.is_not(None))
    )
    if readers or sends:
        db.session.rollback()
        raise NewsletterInUse(newsletter.slug, readers or 0, sends or 0)
    newsletter_id = newsletter.id
    db.session.expunge(newsletter)
    db.session.execute(delete(Subscription).where(Subscription.newsletter_id == newsletter_id))
    db.session.execute(delete(Send).where(Send.newsletter_id == newsletter_id))
    db.session.execute(delete(Newsletter).where(Newsletter.id == newsletter_id))
    audit.record(NEWSLETTER_DELETED, actor, f"newsletter:{newsletter.slug}")
    db.session.commit()
    newsletter_index.forget()
